#!/usr/bin/env python3
"""Writes held-out checks of the user-defined-space interface from the shared NAS-Bench-201 table.

Usage: make_tables.py SHARED_NB201_CSV OUT_DIR

The search sees these tables only as a categorical space (a TOML file of 6 positions with 5
choices each) and a CSV, as it would see a user's own table:
- nb201cat.toml: the space (edge `eJI` = the operation from node I to node J);
- nb201-sub40.csv: a fixed random 40% of the cells (Python's random.Random(2); its best cell
  by validation accuracy is not the full table's), columns valid, test;
- nb201-cost.csv: every cell, with `score` = validation accuracy minus 4 x training time /
  the longest training time (an accuracy-cost trade-off whose best cells are small ones, not
  the accuracy optimum), columns score, valid, test;
- nb201-noisy.csv: every cell, with `noisy` = validation accuracy plus a fixed normal draw of
  standard deviation 0.3 per cell (random.Random(3)): the ranking one training run gives,
  columns noisy, valid, test (search on noisy, report test);
- nb201-sub25.csv: a fixed random 25% of the cells (random.Random(7)), columns vtest, test:
  a different objective (`vtest`: the test accuracy of the network trained on half the
  training set, the run the validation accuracy comes from) on a different subset;
- nb201-time.csv: every cell, columns valid, test, time (the 200-epoch training seconds of
  the run `valid` comes from): NAS-Bench-201 searched at equal training time (`--cost time`).
"""
import csv
import random
import sys

OPS = ["none", "skip_connect", "nor_conv_1x1", "nor_conv_3x3", "avg_pool_3x3"]
EDGES = ["e10", "e20", "e21", "e30", "e31", "e32"]


def ops_of(arch):
    """The six operations of an official cell string, in edge order."""
    return [p.split("~")[0] for p in arch.strip("|").split("|") if p and p != "+"]


def main():
    src, out = sys.argv[1], sys.argv[2]
    rows = list(csv.DictReader(open(src)))
    with open(f"{out}/nb201cat.toml", "w") as f:
        f.write('name = "nb201cat"\n')
        for e in EDGES:
            choices = ", ".join(f'"{o}"' for o in OPS)
            f.write(f'\n[[position]]\nname = "{e}"\nchoices = [{choices}]\n')
    rng = random.Random(2)
    with open(f"{out}/nb201-sub40.csv", "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(EDGES + ["valid", "test"])
        for r in rows:
            if rng.random() < 0.4:
                w.writerow(ops_of(r["arch"]) + [r["cifar10_valid_valid_acc"], r["cifar10_test_acc"]])
    longest = max(float(r["train_time_s"]) for r in rows)
    with open(f"{out}/nb201-cost.csv", "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(EDGES + ["score", "valid", "test"])
        for r in rows:
            score = float(r["cifar10_valid_valid_acc"]) - 4.0 * float(r["train_time_s"]) / longest
            w.writerow(ops_of(r["arch"]) + [f"{score:.4f}", r["cifar10_valid_valid_acc"], r["cifar10_test_acc"]])
    rng = random.Random(3)
    with open(f"{out}/nb201-noisy.csv", "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(EDGES + ["noisy", "valid", "test"])
        for r in rows:
            noisy = float(r["cifar10_valid_valid_acc"]) + rng.gauss(0.0, 0.3)
            w.writerow(ops_of(r["arch"]) + [f"{noisy:.4f}", r["cifar10_valid_valid_acc"], r["cifar10_test_acc"]])
    rng = random.Random(7)
    with open(f"{out}/nb201-sub25.csv", "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(EDGES + ["vtest", "test"])
        for r in rows:
            if rng.random() < 0.25:
                w.writerow(ops_of(r["arch"]) + [r["cifar10_valid_test_acc"], r["cifar10_test_acc"]])

    with open(f"{out}/nb201-time.csv", "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(EDGES + ["valid", "test", "time"])
        for r in rows:
            w.writerow(ops_of(r["arch"]) + [r["cifar10_valid_valid_acc"], r["cifar10_test_acc"],
                                            r["train_time_s"]])


if __name__ == "__main__":
    main()
