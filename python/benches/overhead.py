"""Per-trial overhead of ask+tell from Python, a 100-query SemiNAS loop from Python against
the CLI (both on the embedded NB201 table; medians of --repeats runs of each, alternated), and
the Predictor's fit time and Kendall tau on 1,000 held-out NB201 cells after fits on 100 and
300 cells (NASLib reports tau 0.58 with a 152 s fit for its SemiNAS predictor).

    python3 python/benches/overhead.py [--seminas-bin target/release/seminas] [--budget 100]
                                       [--repeats 5] [--skip-loops] [--skip-predictor]
"""
import argparse
import itertools
import random
import statistics
import subprocess
import sys
import time

import seminas


def loop(algo, budget, seed=0):
    table = seminas.benchmarks.nb201()
    study = seminas.Study(seminas.NB201Space(), algo=algo, budget=budget, seed=seed)
    lookup = 0.0
    t0 = time.perf_counter()
    while (trial := study.ask()) is not None:
        t1 = time.perf_counter()
        value = table.query(trial.arch)["objective"]
        lookup += time.perf_counter() - t1
        study.tell(trial, value)
    return time.perf_counter() - t0, lookup, len(study.trials)


def predictor(sizes=(100, 300), held_out=1000, seed=0):
    """Fit time and Kendall tau of the Predictor's defaults (10,000 pseudo-labelled cells)."""
    ops = ["none", "skip_connect", "nor_conv_1x1", "nor_conv_3x3", "avg_pool_3x3"]
    cells = ["|{}~0|+|{}~0|{}~1|+|{}~0|{}~1|{}~2|".format(*o) for o in itertools.product(ops, repeat=6)]
    table = seminas.benchmarks.nb201()
    cells = random.Random(seed).sample(cells, max(sizes) + held_out)
    acc = [table.query(c)["objective"] for c in cells]
    held, held_acc = cells[-held_out:], acc[-held_out:]
    for n in sizes:
        p = seminas.Predictor(seminas.NB201Space(), seed=seed)
        t0 = time.perf_counter()
        p.fit(cells[:n], acc[:n], unlabeled=10000)
        fit = time.perf_counter() - t0
        tau = seminas.kendall_tau(p.predict(held), held_acc)
        print(f"predictor fit on {n} NB201 cells (+10,000 pseudo-labelled): {fit:.1f} s, "
              f"Kendall tau {tau:.3f} on {held_out} held-out cells")


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--seminas-bin", default="target/release/seminas")
    p.add_argument("--budget", type=int, default=100)
    p.add_argument("--repeats", type=int, default=5)
    p.add_argument("--skip-loops", action="store_true")
    p.add_argument("--skip-predictor", action="store_true")
    a = p.parse_args()
    print(f"seminas {seminas.__version__}, Python {sys.version.split()[0]}")
    if not a.skip_loops:
        for algo in ("random", "re", "seminas"):
            wall, lookup, n = loop(algo, a.budget)
            print(f"{algo:8} {n} trials: ask+tell {1e3 * (wall - lookup) / n:8.3f} ms/trial "
                  f"(loop {wall:.2f} s, table lookups {lookup:.3f} s)")
        cli, py = [], []
        for _ in range(a.repeats):
            t0 = time.perf_counter()
            subprocess.run([a.seminas_bin, "search", "--algo", "seminas", "--queries",
                            str(a.budget), "--seed", "0", "--json"], check=True, capture_output=True)
            cli.append(time.perf_counter() - t0)
            py.append(loop("seminas", a.budget)[0])
        mp, mc = statistics.median(py), statistics.median(cli)
        print(f"seminas {a.budget} queries, median of {a.repeats}: Python loop {mp:.2f} s, "
              f"CLI {mc:.2f} s (ratio {mp / mc:.3f}; runs: Python "
              f"{', '.join(f'{x:.2f}' for x in py)}; CLI {', '.join(f'{x:.2f}' for x in cli)})")
    if not a.skip_predictor:
        predictor()


if __name__ == "__main__":
    main()
