"""SemiNAS over NAS-Bench-201 cells, each trained for real on Fashion-MNIST with PyTorch.

    pip install ./python torch
    python3 examples/python/nb201_fashion_mnist.py --budget 10 --epochs 1 --subset 3000

The network is the NB201 skeleton of examples/torch_nb201_bench.py (imported from there).
Fashion-MNIST is read from its IDX files (Debian: apt-get install dataset-fashion-mnist, or
--data-dir DIR). Runs on CUDA where present, else on the CPU. Not run in CI (it needs torch).
"""
import argparse
import gzip
import os
import struct
import sys

import torch
import torch.nn as nn

import seminas

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))
from torch_nb201_bench import network, parse_cell  # noqa: E402


def idx(path):
    with gzip.open(path, "rb") as f:
        magic, n = struct.unpack(">II", f.read(8))
        dims = [struct.unpack(">I", f.read(4))[0] for _ in range(magic % 256 - 1)]
        data = torch.frombuffer(bytearray(f.read()), dtype=torch.uint8)
    return data.reshape(n, *dims)


def load(data_dir, split):
    images = idx(os.path.join(data_dir, f"{split}-images-idx3-ubyte.gz")).float().div(255.0)
    labels = idx(os.path.join(data_dir, f"{split}-labels-idx1-ubyte.gz")).long()
    return (images.unsqueeze(1) - 0.286) / 0.353, labels


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--data-dir", default="/usr/share/datasets/fashion-mnist")
    p.add_argument("--budget", type=int, default=10)
    p.add_argument("--epochs", type=int, default=1)
    p.add_argument("--subset", type=int, default=3000, help="training images")
    p.add_argument("--channels", type=int, default=8)
    p.add_argument("--cells", type=int, default=1)
    p.add_argument("--storage", default=None, help="a folder: the study is stored and resumable")
    a = p.parse_args()
    device = "cuda" if torch.cuda.is_available() else "cpu"
    torch.manual_seed(0)
    x, y = load(a.data_dir, "train")
    x_test, y_test = load(a.data_dir, "t10k")
    # Validation split carved from the training set: the search sees it, never the test set.
    x_train, y_train = x[: a.subset], y[: a.subset]
    x_val, y_val = x[-2000:], y[-2000:]

    def accuracy(net, xs, ys):
        net.eval()
        with torch.no_grad():
            hits = sum((net(xs[i:i + 500].to(device)).argmax(1).cpu() == ys[i:i + 500]).sum().item()
                       for i in range(0, len(xs), 500))
        return 100.0 * hits / len(xs)

    def train(cell):
        torch.manual_seed(0)
        net = network(parse_cell(cell), a.channels, a.cells, cin=1).to(device)
        opt = torch.optim.SGD(net.parameters(), lr=0.1, momentum=0.9, nesterov=True, weight_decay=5e-4)
        steps = a.epochs * (len(x_train) // 64)
        sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, steps)
        loss_fn = nn.CrossEntropyLoss()
        for _ in range(a.epochs):
            net.train()
            order = torch.randperm(len(x_train))
            for i in range(0, len(order) - 63, 64):
                b = order[i:i + 64]
                opt.zero_grad()
                loss_fn(net(x_train[b].to(device)), y_train[b].to(device)).backward()
                opt.step()
                sched.step()
        val = accuracy(net, x_val, y_val)
        test = accuracy(net, x_test[:2000], y_test[:2000])
        print(f"{cell}: validation {val:.2f}%, test {test:.2f}%", flush=True)
        return val, {"test_acc": test}

    study = seminas.optimize(seminas.NB201Space(), train, budget=a.budget, algo="seminas",
                             seed=0, storage=a.storage)
    best = study.best
    print(f"best: {best['arch']} validation {best['objective']:.2f}% test {best['metrics']['test_acc']:.2f}%")


if __name__ == "__main__":
    main()
