"""SemiNASSampler inside Optuna on the embedded NAS-Bench-201 table (CIFAR-10): its per-trial
overhead, and N seeds at a budget of trials beside `seminas search` with the same algorithm
and Optuna's TPESampler and RandomSampler on the same objective.

    python3 python/benches/optuna_sampler.py [--seeds 20] [--trials 100] [--algo seminas-ens]
        [--seminas-bin target/release/seminas] [--samplers seminas,cli,tpe,random]

Needs optuna (pinned in benches/peers/requirements.txt). The objective is an Optuna user's:
six `suggest_categorical("edge_J_I", ops)`, the table's validation accuracy returned, its test
accuracy kept as a user attribute. For every sampler and seed the best trial is the one with
the largest validation accuracy; the row shows the mean of its test accuracy (what
`seminas search` reports), the mean validation accuracy, how often it is the table's best
test accuracy (hit), how many distinct cells the trials evaluated (TPE and random sample
repeats: a trial is not a query there, as it is in `seminas search`), and seconds per run.
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import statistics
import subprocess
import sys
import time

import optuna

import seminas
import seminas.optuna

OPS = ["none", "skip_connect", "nor_conv_1x1", "nor_conv_3x3", "avg_pool_3x3"]
EDGES = [(j, i) for j in range(1, 4) for i in range(j)]


def cell(params):
    e = {(j, i): f"{params[f'edge_{j}_{i}']}~{i}" for j, i in EDGES}
    return f"|{e[1, 0]}|+|{e[2, 0]}|{e[2, 1]}|+|{e[3, 0]}|{e[3, 1]}|{e[3, 2]}|"


def make_objective(table):
    def objective(trial):
        params = {f"edge_{j}_{i}": trial.suggest_categorical(f"edge_{j}_{i}", OPS) for j, i in EDGES}
        row = table.query(cell(params))
        trial.set_user_attr("test_acc", row["report"])
        return row["objective"]

    return objective


def make_sampler(name, seed, algo):
    if name == "seminas":
        return seminas.optuna.SemiNASSampler(seed=seed, algo=algo)
    if name == "tpe":
        return optuna.samplers.TPESampler(seed=seed)
    if name == "random":
        return optuna.samplers.RandomSampler(seed=seed)
    raise ValueError(name)


def optuna_run(name, seed, trials, algo, table):
    study = optuna.create_study(direction="maximize", sampler=make_sampler(name, seed, algo))
    t0 = time.perf_counter()
    study.optimize(make_objective(table), n_trials=trials)
    seconds = time.perf_counter() - t0
    best = study.best_trial
    distinct = len({cell(t.params) for t in study.trials})
    return best.value, best.user_attrs["test_acc"], distinct, seconds


def cli_run(binary, seed, trials, algo):
    t0 = time.perf_counter()
    out = subprocess.run(
        [binary, "search", "--algo", algo, "--queries", str(trials), "--seed", str(seed), "--json"],
        check=True, capture_output=True, text=True,
    ).stdout
    seconds = time.perf_counter() - t0
    best = json.loads(out)["best"]
    return best["objective"], best["report"], trials, seconds


def overhead(table, algo, trials):
    """Milliseconds per trial spent outside the table lookup (the sampler and Optuna's own
    bookkeeping), for a study of `trials` trials with seed 0."""
    spent = [0.0]

    def timed(trial):
        params = {f"edge_{j}_{i}": trial.suggest_categorical(f"edge_{j}_{i}", OPS) for j, i in EDGES}
        t0 = time.perf_counter()
        row = table.query(cell(params))
        trial.set_user_attr("test_acc", row["report"])
        spent[0] += time.perf_counter() - t0
        return row["objective"]

    rows = []
    for name in ("seminas", "tpe", "random"):
        spent[0] = 0.0
        study = optuna.create_study(direction="maximize", sampler=make_sampler(name, 0, algo))
        t0 = time.perf_counter()
        study.optimize(timed, n_trials=trials)
        wall = time.perf_counter() - t0
        rows.append((name, 1e3 * (wall - spent[0]) / trials))
    return rows


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--seeds", type=int, default=20)
    p.add_argument("--first-seed", type=int, default=0)
    p.add_argument("--trials", type=int, default=100)
    p.add_argument("--algo", default="seminas-ens")
    p.add_argument("--seminas-bin", default=os.environ.get("SEMINAS_BIN", "target/release/seminas"))
    p.add_argument("--samplers", default="seminas,cli,tpe,random")
    p.add_argument("--no-overhead", action="store_true", help="skip the per-trial overhead")
    p.add_argument("--per-seed", action="store_true", help="print every run")
    a = p.parse_args()
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    table = seminas.benchmarks.nb201()
    best_test = max(
        table.query(cell({f"edge_{j}_{i}": op for (j, i), op in zip(EDGES, ops)}))["report"]
        for ops in itertools.product(OPS, repeat=len(EDGES))
    )
    print(f"seminas {seminas.__version__}, optuna {optuna.__version__}, Python {sys.version.split()[0]}")
    print(f"NB201 CIFAR-10, {a.trials} trials, seeds {a.first_seed}-{a.first_seed + a.seeds - 1}, algo {a.algo}; "
          f"table's best test accuracy {best_test}")
    if not a.no_overhead:
        print(f"\nper-trial overhead (sampler + Optuna, in-memory storage, {a.trials} trials, seed 0):")
        for name, ms in overhead(table, a.algo, a.trials):
            print(f"  {name:8} {ms:8.2f} ms/trial")
    labels = {
        "seminas": f"SemiNASSampler(algo={a.algo})",
        "cli": f"seminas search --algo {a.algo}",
        "tpe": "optuna TPESampler()",
        "random": "optuna RandomSampler()",
    }
    print(f"\n{'sampler':40} {'test acc':>9} {'valid acc':>9} {'hit':>5} {'distinct':>8} {'s/run':>6}")
    for name in a.samplers.split(","):
        runs = []
        for seed in range(a.first_seed, a.first_seed + a.seeds):
            if name == "cli":
                runs.append(cli_run(a.seminas_bin, seed, a.trials, a.algo))
            else:
                runs.append(optuna_run(name, seed, a.trials, a.algo, table))
            if a.per_seed:
                print(f"  {name} seed {seed}: test {runs[-1][1]} valid {runs[-1][0]}", flush=True)
        valid = statistics.mean(r[0] for r in runs)
        test = statistics.mean(r[1] for r in runs)
        hit = sum(r[1] == best_test for r in runs) / len(runs)
        distinct = statistics.mean(r[2] for r in runs)
        seconds = statistics.mean(r[3] for r in runs)
        print(f"{labels[name]:40} {test:9.3f} {valid:9.3f} {hit:5.0%} {distinct:8.1f} {seconds:6.2f}",
              flush=True)


if __name__ == "__main__":
    main()
