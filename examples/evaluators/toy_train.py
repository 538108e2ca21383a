#!/usr/bin/env python3
"""A stand-in for a training script, in the shape seminas's command evaluator expects.

    seminas search --evaluator 'python3 examples/evaluators/toy_train.py --arch {arch} --out {result}'

It reads the architecture as JSON (--arch), "trains" it (a deterministic score from the
architecture, after an optional random pause), and writes {"objective": ..., "metrics": {...}}
to --out. A real script trains a network here instead. For testing failure handling it can
misbehave on a fixed fraction of architectures (chosen by a hash of the architecture, so the
same architecture always behaves the same): crash, hang, print garbage or report NaN.
"""
import argparse
import hashlib
import json
import os
import random
import sys
import time

# NAS-Bench-201 operations and NAS-Bench-101 ops, roughly by how much they help a cell.
OP_SCORE = {
    "nor_conv_3x3": 3.0, "nor_conv_1x1": 2.0, "avg_pool_3x3": 0.5, "skip_connect": 1.0,
    "none": 0.0, "conv3x3-bn-relu": 3.0, "conv1x1-bn-relu": 2.0, "maxpool3x3": 0.5,
}


def unit(text, salt):
    """A number in [0, 1) fixed by text and salt."""
    digest = hashlib.sha256((salt + text).encode()).digest()
    return int.from_bytes(digest[:8], "big") / 2**64


def score(arch):
    if isinstance(arch, str):  # NAS-Bench-201 cell string
        ops = [tok.split("~")[0] for tok in arch.split("|") if "~" in tok]
    elif isinstance(arch, dict) and "ops" in arch:  # NAS-Bench-101 cell
        ops = arch["ops"]
    elif isinstance(arch, dict):  # categorical: position -> choice
        ops = [str(v) for v in arch.values()]
    else:
        raise ValueError(f"unexpected architecture {arch!r}")
    base = sum(OP_SCORE.get(op, 1.0) for op in ops)
    return round(50.0 + 2.0 * base + 5.0 * unit(json.dumps(arch), "noise"), 4)


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--arch", required=True, help="the architecture as JSON")
    p.add_argument("--out", help="result file (default: print the result as the last line)")
    p.add_argument("--sleep", type=float, default=0.0, help="pause up to this many seconds")
    p.add_argument("--crash-rate", type=float, default=0.0)
    p.add_argument("--hang-rate", type=float, default=0.0)
    p.add_argument("--garbage-rate", type=float, default=0.0)
    p.add_argument("--nan-rate", type=float, default=0.0)
    p.add_argument("--journal", help="append the architecture here once its result is written")
    a = p.parse_args()

    arch = json.loads(a.arch)
    text = json.dumps(arch, sort_keys=True)
    fault = unit(text, "fault")
    print(f"training {text}", flush=True)
    time.sleep(random.uniform(0.0, a.sleep))
    edges = [a.crash_rate, a.hang_rate, a.garbage_rate, a.nan_rate]
    bounds = [sum(edges[: i + 1]) for i in range(4)]
    if fault < bounds[0]:
        print("RuntimeError: CUDA error: an illegal memory access was encountered", file=sys.stderr)
        sys.exit(1)
    if fault < bounds[1]:
        time.sleep(3600)
    if fault < bounds[2]:
        print("epoch 200: loss=0.031 acc=ninety-three")
        return
    objective = float("nan") if fault < bounds[3] else score(arch)
    result = json.dumps({"objective": objective, "metrics": {"test_acc": round(objective - 0.5, 4)}})
    if a.out:
        # Write then rename: a reader never sees half a result.
        tmp = a.out + ".tmp"
        with open(tmp, "w") as f:
            f.write(result)
        os.replace(tmp, a.out)
    else:
        print(result)
    if a.journal:
        with open(a.journal, "a") as f:
            f.write(text + "\n")


if __name__ == "__main__":
    main()
