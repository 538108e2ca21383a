#!/usr/bin/env python3
"""The README's tables at equal training time: makes every directory they come from (each is
resumable: what is there already is not run again) and prints the tables.

    python3 benches/equal_time.py --out DIR [--seeds 100] [--peers ...] [--print-only]

NAS-Bench-101's embedded sample with its four fidelities (4 / 12 / 36 / 108 epochs, a step
costing step / 108 of the cell's training time), regret of the best whole training:
    DIR/nb101-20k-trainings             seminas bench --space nb101-20k --algos random,re,seminas-ens
                                        --budget-trainings 25,50,100 (SemiNAS-Ens stops its own)
    DIR/nb101-20k-trainings-hyperband   the same with --prune hyperband
    DIR/nb101-20k-trainings-whole       SemiNAS-Ens with --prune none (every training whole)
    DIR/peers/nb101-20k-mf-nearest      benches/peers/run.sh mf bench --nearest (Optuna TPE with
                                        and without pruners, DEHB, random; --peers chooses)
    DIR/peers/nb101-20k-mf-nearest-smac the same for SMAC3 at 25 and 50 trainings (a SMAC study
                                        to 100 took a minute, 15 times one to 50)
NAS-Bench-201 CIFAR-10 as a user table with its training time as the cost (one fidelity; made
from the shared data by benches/heldout/make_tables.py), mean test accuracy of the best cell:
    DIR/nb201-cifar10-trainings         seminas bench --space nb201cat.toml --table nb201-time.csv
    DIR/peers/nb201-cifar10-trainings   benches/peers/run.sh mf bench (TPE, random)

The peers on nb101-20k run with `--nearest`: a proposal that is not a cell of the 20,001-cell
sample is answered by the sample's nearest cell (only 2% of their 26-parameter encoding is a
cell of the sample; refused for free instead, TPE took 20 minutes a study and the pruned TPEs
could not finish one). The committed results/ are these directories (results/README.md);
`--print-only --out results` prints their tables.
"""

import argparse
import json
import os
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
SHARED_NB201 = REPO.parent / "shared" / "data" / "nb201" / "nb201_cifar10.csv"
NB101_PEERS = "random-full,dehb,tpe-full,tpe-hyperband,tpe-percentile"
NAMES = {
    "random": "random",
    "re": "RE",
    "seminas-ens": "**SemiNAS-Ens**, the default (stops its own trainings)",
    "seminas-ens+whole": "SemiNAS-Ens, every training whole (`--prune none`)",
    "random+hb": "random + `--prune hyperband`",
    "re+hb": "RE + `--prune hyperband`",
    "seminas-ens+hb": "SemiNAS-Ens + `--prune hyperband`",
    "random-full": "Optuna random",
    "tpe-full": "Optuna TPE",
    "tpe-hyperband": "Optuna TPE + HyperbandPruner",
    "tpe-percentile": "Optuna TPE + PercentilePruner(75)",
    "tpe-median": "Optuna TPE + MedianPruner",
    "dehb": "DEHB",
    "smac": "SMAC3 (multi-fidelity)",
}
BUDGETS = (25, 50, 100)


def run(cmd, cwd=REPO):
    print("+", " ".join(map(str, cmd)), file=sys.stderr, flush=True)
    subprocess.run([str(c) for c in cmd], cwd=cwd, check=True)


def make(out, seeds, peers, jobs, smac):
    seminas = os.environ.get("SEMINAS", str(REPO / "target" / "release" / "seminas"))
    peer_sh = REPO / "benches" / "peers" / "run.sh"
    n = str(seeds)
    for algos, extra, name in (
            ("random,re,seminas-ens", [], "nb101-20k-trainings"),
            ("random,re,seminas-ens", ["--prune", "hyperband"], "nb101-20k-trainings-hyperband"),
            ("seminas-ens", ["--prune", "none"], "nb101-20k-trainings-whole")):
        run([seminas, "bench", "--space", "nb101-20k", "--algos", algos, *extra,
             "--budget-trainings", "25,50,100", "--seeds", n, "--out", out / name])
    if peers:
        run([peer_sh, "mf", "bench", "--nearest", "--peers", peers, "--seeds", n,
             "--jobs", str(jobs), "--out", out / "peers" / "nb101-20k-mf-nearest"])
    if smac:
        run([peer_sh, "mf", "bench", "--nearest", "--peers", "smac", "--budgets", "25,50",
             "--seeds", n, "--jobs", str(jobs),
             "--out", out / "peers" / "nb101-20k-mf-nearest-smac"])
    tables = out / "nb201-tables"
    tables.mkdir(parents=True, exist_ok=True)
    run([sys.executable, REPO / "benches" / "heldout" / "make_tables.py", SHARED_NB201, tables])
    run([seminas, "bench", "--space", "nb201cat.toml", "--table", "nb201-time.csv",
         "--objective", "valid", "--report", "test", "--cost", "time",
         "--algos", "random,re,seminas-ens", "--budget-trainings", "25,50,100", "--seeds", n,
         "--out", (out / "nb201-cifar10-trainings").resolve()], cwd=tables)
    run([peer_sh, "mf", "bench", "--space", "nb201cat.toml", "--table", "nb201-time.csv",
         "--fidelity", "200=valid", "--cost", "time", "--report", "test",
         "--peers", "tpe-full,random-full", "--seeds", n,
         "--out", (out / "peers" / "nb201-cifar10-trainings").resolve()], cwd=tables)


def rows(folder, suffix=""):
    """table.json's rows by algorithm (+ suffix) and budget; {} if the directory is missing."""
    path = folder / "table.json"
    if not path.exists():
        return {}
    out = {}
    for r in json.loads(path.read_text())["rows"]:
        out.setdefault(r["algo"] + suffix, {})[int(r["queries"])] = r
    return out


def table(title, by_algo, value, digits, names):
    """One markdown table: a row per algorithm of `names` that `by_algo` has."""
    print(f"{title}\n")
    print("| method | 25 trainings | 50 | 100 | seeds |")
    print("|---|---:|---:|---:|---:|")
    for algo, name in names.items():
        r = by_algo.get(algo)
        if not r:
            continue
        cells = [f"{r[b][value]:.{digits}f}" if b in r else "-" for b in BUDGETS]
        seeds = sorted({r[b]["seeds"] for b in BUDGETS if b in r})
        print(f"| {name} | {' | '.join(cells)} | {'/'.join(map(str, seeds))} |")


def print_tables(out):
    nb101 = {**rows(out / "nb101-20k-trainings"),
             **rows(out / "nb101-20k-trainings-hyperband", "+hb"),
             **rows(out / "nb101-20k-trainings-whole", "+whole"),
             **rows(out / "peers" / "nb101-20k-mf-nearest"),
             **rows(out / "peers" / "nb101-20k-mf-nearest-smac")}
    table("NAS-Bench-101 sample (nb101-20k), mean validation regret of the best whole training:",
          nb101, "mean_regret", 4, NAMES)
    nb201 = {**rows(out / "nb201-cifar10-trainings"),
             **rows(out / "peers" / "nb201-cifar10-trainings")}
    # One fidelity: nothing is stopped.
    names = {a: n.replace(" (stops its own trainings)", "") for a, n in NAMES.items()}
    print()
    table("NAS-Bench-201 CIFAR-10 with training time as the cost, mean test accuracy (%):",
          nb201, "mean_report", 2, names)


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--out", required=True, type=Path)
    p.add_argument("--seeds", type=int, default=100)
    p.add_argument("--peers", default=NB101_PEERS,
                   help=f"nb101-20k peers of benches/peers/mf_bench.py (default {NB101_PEERS})")
    p.add_argument("--jobs", type=int, default=2,
                   help="processes running the nb101-20k peers' studies at once")
    p.add_argument("--no-smac", action="store_true", help="leave SMAC3 out (5 minutes)")
    p.add_argument("--print-only", action="store_true", help="print the tables of --out")
    args = p.parse_args()
    if not args.print_only:
        make(args.out, args.seeds, args.peers, args.jobs, not args.no_smac)
    print_tables(args.out)


if __name__ == "__main__":
    main()
