#!/usr/bin/env python3
"""Prints the README's NAS-Bench-201 table (three data sets, seminas's algorithms against
Optuna) from the files that `seminas bench --out` and benches/peers wrote:

    results/nb201-<dataset>/{table.json,runs.csv}          seminas bench --dataset <dataset> ...
    results/peers/nb201-<dataset>/{table.json,runs.csv}    benches/peers/run.sh bench --dataset ...

Mean test accuracy of each run's best cell by validation, and the hit rate: the share of runs
that found the table's best cell by validation accuracy (what the search sees; on CIFAR-10 and
CIFAR-100 it is also the best by test accuracy, on ImageNet16-120 it is not: its best test
cell, 47.31, is not its best validation cell, whose test accuracy is 46.20).

Usage: python3 benches/nb201_table.py [RESULTS_DIR]   (default: results/ of this checkout)
"""

import csv
import gzip
import json
import sys
from pathlib import Path

DATASETS = [("cifar10", "CIFAR-10"), ("cifar100", "CIFAR-100"), ("imagenet16-120", "ImageNet16-120")]
NAMES = {
    "random": "random",
    "re": "RE",
    "nao": "NAO",
    "seminas": "SemiNAS",
    "seminas-re": "SemiNAS-RE",
    "seminas-ens": "**SemiNAS-Ens** (default)",
    "optuna-tpe": "Optuna TPE",
}
BUDGETS = (50, 100, 150)


def rows(folder, best_objective):
    """table.json's rows by algorithm and budget, each with `found`: the share of runs.csv's
    runs whose best objective is `best_objective`."""
    table = json.loads((folder / "table.json").read_text())
    out = {}
    for r in table["rows"]:
        out.setdefault(r["algo"], {})[r["queries"]] = dict(r)
    hits = {}
    with open(folder / "runs.csv") as f:
        for run in csv.DictReader(f):
            key = (run["algo"], int(run["budget"]))
            n, k = hits.get(key, (0, 0))
            hits[key] = (n + 1, k + (abs(float(run["objective"]) - best_objective) < 1e-9))
    for (algo, budget), (n, k) in hits.items():
        if algo in out and budget in out[algo]:
            out[algo][budget]["found"] = k / n
    return table, out


def best_objective(data, objective):
    with gzip.open(data, "rt") as f:
        return max(float(r[objective]) for r in csv.DictReader(f))


def main():
    repo = Path(__file__).resolve().parents[1]
    results = Path(sys.argv[1]) if len(sys.argv) > 1 else repo / "results"
    print("| data set (best test acc.) | method | 50 queries | 100 | 150 | hit rate 50 / 100 / 150 |")
    print("|---|---|---:|---:|---:|---:|")
    for key, name in DATASETS:
        objective = json.loads((results / f"nb201-{key}" / "table.json").read_text())["objective"]
        best = best_objective(repo / "data" / f"nb201_{key.replace('-', '_')}.csv.gz", objective)
        table, ours = rows(results / f"nb201-{key}", best)
        _, peers = rows(results / "peers" / f"nb201-{key}", best)
        by_algo = {**ours, **{a: r for a, r in peers.items() if a == "optuna-tpe"}}
        first = True
        for algo, label in NAMES.items():
            if algo not in by_algo:
                continue
            r = by_algo[algo]
            if any(b not in r for b in BUDGETS):
                sys.exit(f"{algo} on {key} lacks a budget of {BUDGETS}")
            seeds = {r[b]["seeds"] for b in BUDGETS}
            if seeds != {100}:
                sys.exit(f"{algo} on {key} has {sorted(seeds)} seeds, not 100")
            accs = " | ".join(f"{r[b]['mean_report']:.2f}" for b in BUDGETS)
            hits = " / ".join(f"{r[b]['found']:.2f}" for b in BUDGETS)
            if algo == "seminas-ens":
                accs = " | ".join(f"**{r[b]['mean_report']:.2f}**" for b in BUDGETS)
            where = f"{name} ({table['optimum']:.2f})" if first else ""
            first = False
            print(f"| {where} | {label} | {accs} | {hits} |")


if __name__ == "__main__":
    main()
