"""Per-trial overhead of ask+tell from Python, and a 100-query SemiNAS loop from Python
against the CLI (both on the embedded NB201 table).

    python3 python/benches/overhead.py [--seminas-bin target/release/seminas] [--budget 100]
"""
import argparse
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


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--seminas-bin", default="target/release/seminas")
    p.add_argument("--budget", type=int, default=100)
    a = p.parse_args()
    print(f"seminas {seminas.__version__}, Python {sys.version.split()[0]}")
    for algo in ("random", "re", "seminas"):
        wall, lookup, n = loop(algo, a.budget)
        print(f"{algo:8} {n} trials: ask+tell {1e3 * (wall - lookup) / n:8.3f} ms/trial "
              f"(loop {wall:.2f} s, table lookups {lookup:.3f} s)")
    t0 = time.perf_counter()
    subprocess.run([a.seminas_bin, "search", "--algo", "seminas", "--queries", str(a.budget),
                    "--seed", "0", "--json"], check=True, capture_output=True)
    cli = time.perf_counter() - t0
    py, _, _ = loop("seminas", a.budget)
    print(f"seminas {a.budget} queries: Python loop {py:.2f} s, CLI {cli:.2f} s "
          f"(ratio {py / cli:.3f})")


if __name__ == "__main__":
    main()
