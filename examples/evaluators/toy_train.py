#!/usr/bin/env python3
"""A stand-in for a training script, in the shape seminas's command evaluator expects.

    seminas search --evaluator 'python3 examples/evaluators/toy_train.py --arch {arch} --out {result}'

It reads the architecture as JSON (--arch), "trains" it (a deterministic score from the
architecture, after an optional random pause), and writes {"objective": ..., "metrics": {...}}
to --out. A real script trains a network here instead. For testing failure handling it can
misbehave on a fixed fraction of architectures (chosen by a hash of the architecture, so the
same architecture always behaves the same): crash, hang, print garbage or report NaN.

With --epochs N it trains for N epochs and prints a step report {"step": E, "objective": V}
after each (its learning curve rises to the final score), which lets seminas stop it early
(`--max-step N`); --bad-steps makes some architectures report badly (NaN, a repeated or
decreasing step, a step past N) and --ignore-term makes it ignore the SIGTERM of a stop.
"""
import argparse
import hashlib
import json
import os
import random
import signal
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
    p.add_argument("--epochs", type=int, default=0, help="report a step per epoch")
    p.add_argument("--epoch-sleep", type=float, default=0.0, help="seconds per epoch")
    p.add_argument("--bad-steps", type=float, default=0.0, help="share reporting bad steps")
    p.add_argument("--ignore-term", action="store_true", help="ignore SIGTERM")
    p.add_argument("--epoch-journal", help="append 'ARCH EPOCH' here after each epoch")
    a = p.parse_args()
    if a.ignore_term:
        signal.signal(signal.SIGTERM, signal.SIG_IGN)

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
    if a.epochs > 0:
        train_epochs(a, arch, text, objective)
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


def train_epochs(a, arch, text, final):
    """Reports the learning curve: 60% of the final score after the first epoch, rising to
    it; the rise's speed varies with the architecture, so early ranks are not final ranks."""
    speed = 0.5 + unit(text, "speed")
    bad = unit(text, "bad") < a.bad_steps
    kind = int(unit(text, "kind") * 4)
    for e in range(1, a.epochs + 1):
        time.sleep(a.epoch_sleep)
        progress = 1.0 - (1.0 - e / a.epochs) ** (1.0 + speed)
        value = round(final * (0.6 + 0.4 * progress), 4)
        steps = [(e, value)]
        if bad and e == 2:
            # NaN (not JSON), a repeated step, a decreasing step, a step past the end.
            steps = [[(e, "NaN")], [(e, value), (e, value)], [(e, value), (e - 1, value)],
                     [(e, value), (a.epochs + 5, value)]][kind]
        for step, v in steps:
            print(f'{{"step": {step}, "objective": {v}}}', flush=True)
        if a.epoch_journal:
            with open(a.epoch_journal, "a") as f:
                f.write(f"{text} {e}\n")


if __name__ == "__main__":
    main()
