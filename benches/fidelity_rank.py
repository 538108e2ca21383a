#!/usr/bin/env python3
"""How well each lower fidelity of a table ranks the cells that matter: Spearman's rank
correlation of every fidelity column with the whole-training column, over the whole table
and over its best cells only (the cells a good predictor proposes).

    python3 benches/fidelity_rank.py                       # nb101-20k (data/nb101_20k.csv.gz)
    python3 benches/fidelity_rank.py --table T.csv --whole val_acc \\
        --fidelity val_12ep --top 100,500

Standard library only. Ties get their mean rank.
"""
import argparse
import csv
import gzip
import math
import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
DEFAULT = os.path.normpath(os.path.join(HERE, "..", "data", "nb101_20k.csv.gz"))


def ranks(values):
    order = sorted(range(len(values)), key=lambda i: values[i])
    r = [0.0] * len(values)
    i = 0
    while i < len(order):
        j = i
        while j + 1 < len(order) and values[order[j + 1]] == values[order[i]]:
            j += 1
        for k in range(i, j + 1):
            r[order[k]] = (i + j) / 2.0
        i = j + 1
    return r


def pearson(a, b):
    n = len(a)
    ma, mb = sum(a) / n, sum(b) / n
    sab = sum((x - ma) * (y - mb) for x, y in zip(a, b))
    saa = sum((x - ma) ** 2 for x in a)
    sbb = sum((y - mb) ** 2 for y in b)
    return sab / math.sqrt(saa * sbb) if saa > 0 and sbb > 0 else float("nan")


def spearman(a, b):
    return pearson(ranks(a), ranks(b))


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--table", default=DEFAULT, help="CSV or CSV.gz (default: nb101-20k)")
    p.add_argument("--whole", default="val_acc_108ep", help="the whole training's column")
    p.add_argument(
        "--fidelity",
        action="append",
        help="a lower fidelity's column (repeat; default: nb101-20k's 4, 12 and 36 epochs)",
    )
    p.add_argument("--top", default="200,1000,3000", help="sizes of the best-cell subsets")
    a = p.parse_args()
    fids = a.fidelity or ["val_acc_4ep", "val_acc_12ep", "val_acc_36ep"]
    tops = [int(t) for t in a.top.split(",") if t.strip()]
    opener = gzip.open if a.table.endswith(".gz") else open
    with opener(a.table, "rt", newline="") as f:
        rows = list(csv.DictReader(f))
    for col in [a.whole] + fids:
        if rows and col not in rows[0]:
            sys.exit(f"{a.table}: no column {col!r} (columns: {', '.join(rows[0])})")
    data = []
    for line, r in enumerate(rows, start=2):
        try:
            vals = [float(r[c]) for c in [a.whole] + fids]
        except (TypeError, ValueError):
            sys.exit(f"{a.table}:{line}: a value of {[a.whole] + fids} is not a number")
        if all(math.isfinite(v) for v in vals):
            data.append(vals)
    data.sort(key=lambda v: -v[0])
    sizes = [t for t in tops if t < len(data)] + [len(data)]
    print(f"{a.table}: {len(data)} cells; Spearman with {a.whole} over the best N cells by it")
    print("fidelity".ljust(16) + "".join(f"N={n}".rjust(10) for n in sizes))
    for k, col in enumerate(fids, start=1):
        cells = []
        for n in sizes:
            sub = data[:n]
            cells.append(f"{spearman([v[0] for v in sub], [v[k] for v in sub]):.3f}".rjust(10))
        print(col.ljust(16) + "".join(cells))


if __name__ == "__main__":
    main()
