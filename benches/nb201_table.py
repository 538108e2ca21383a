#!/usr/bin/env python3
"""Prints the README's NAS-Bench-201 table (three data sets, seminas's algorithms against
Optuna) from the `table.json` files that `seminas bench --out` and benches/peers wrote:

    results/nb201-<dataset>/table.json          seminas bench --dataset <dataset> ...
    results/peers/nb201-<dataset>/table.json    benches/peers/run.sh bench --dataset <dataset> ...

Usage: python3 benches/nb201_table.py [RESULTS_DIR]   (default: results/ of this checkout)
"""

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


def rows(path):
    table = json.loads(path.read_text())
    out = {}
    for r in table["rows"]:
        out.setdefault(r["algo"], {})[r["queries"]] = r
    return table, out


def main():
    results = Path(sys.argv[1]) if len(sys.argv) > 1 else Path(__file__).resolve().parents[1] / "results"
    print("| data set (best test acc.) | method | 50 queries | 100 | 150 | hit rate 50 / 100 / 150 |")
    print("|---|---|---:|---:|---:|---:|")
    for key, name in DATASETS:
        table, ours = rows(results / f"nb201-{key}" / "table.json")
        _, peers = rows(results / "peers" / f"nb201-{key}" / "table.json")
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
            hits = " / ".join(f"{r[b]['hit_rate']:.2f}" for b in BUDGETS)
            if algo == "seminas-ens":
                accs = " | ".join(f"**{r[b]['mean_report']:.2f}**" for b in BUDGETS)
            where = f"{name} ({table['optimum']:.2f})" if first else ""
            first = False
            print(f"| {where} | {label} | {accs} | {hits} |")


if __name__ == "__main__":
    main()
