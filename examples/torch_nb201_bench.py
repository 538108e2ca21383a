"""PyTorch CPU reference for `seminas bench-trainer`: the same NB201 network, batch and threads.

Usage: python3 torch_nb201_bench.py --cell CELL --channels C --cells N --size HW --in-channels K
       --batch B --steps S --threads T
Prints one JSON object: {"images_per_s": ..., "seconds_per_step": ..., "torch": version}.
Written for seminas (not copied from the NAS-Bench-201 code); layers follow the published
NB201 skeleton: ReLU-Conv-BN operations, residual reduction blocks, BN-ReLU, pooling, linear.
"""
import argparse
import json
import time

import torch
import torch.nn as nn

OPS = ["none", "skip_connect", "nor_conv_1x1", "nor_conv_3x3", "avg_pool_3x3"]


def parse_cell(text):
    nodes = text.strip().split("+")
    edges = []
    for j, node in enumerate(nodes, start=1):
        for i, e in enumerate(node.strip("|").split("|")):
            op, src = e.split("~")
            assert int(src) == i
            edges.append((j, i, op))
    return edges


class ReLUConvBN(nn.Sequential):
    def __init__(self, cin, cout, k, stride):
        super().__init__(
            nn.ReLU(inplace=False),
            nn.Conv2d(cin, cout, k, stride, k // 2, bias=False),
            nn.BatchNorm2d(cout),
        )


class Zero(nn.Module):
    def forward(self, x):
        return x.mul(0.0)


def make_op(name, c):
    if name == "none":
        return Zero()
    if name == "skip_connect":
        return nn.Identity()
    if name == "nor_conv_1x1":
        return ReLUConvBN(c, c, 1, 1)
    if name == "nor_conv_3x3":
        return ReLUConvBN(c, c, 3, 1)
    return nn.AvgPool2d(3, 1, 1, count_include_pad=False)


class Cell(nn.Module):
    def __init__(self, edges, c):
        super().__init__()
        self.edges = [(j, i) for j, i, _ in edges]
        self.ops = nn.ModuleList(make_op(op, c) for _, _, op in edges)

    def forward(self, x):
        nodes = [x]
        for j in (1, 2, 3):
            nodes.append(sum(op(nodes[i]) for (to, i), op in zip(self.edges, self.ops) if to == j))
        return nodes[3]


class Reduction(nn.Module):
    def __init__(self, cin, cout):
        super().__init__()
        self.a = ReLUConvBN(cin, cout, 3, 2)
        self.b = ReLUConvBN(cout, cout, 3, 1)
        self.shortcut = nn.Sequential(nn.AvgPool2d(2, 2), nn.Conv2d(cin, cout, 1, bias=False))

    def forward(self, x):
        return self.b(self.a(x)) + self.shortcut(x)


def network(edges, c, n, cin, classes=10):
    layers = [nn.Conv2d(cin, c, 3, padding=1, bias=False), nn.BatchNorm2d(c)]
    ch = c
    for stage in range(3):
        if stage > 0:
            layers.append(Reduction(ch, 2 * ch))
            ch *= 2
        layers += [Cell(edges, ch) for _ in range(n)]
    layers += [nn.BatchNorm2d(ch), nn.ReLU(), nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(ch, classes)]
    return nn.Sequential(*layers)


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--cell", required=True)
    p.add_argument("--channels", type=int, default=16)
    p.add_argument("--cells", type=int, default=5)
    p.add_argument("--size", type=int, default=32)
    p.add_argument("--in-channels", type=int, default=3)
    p.add_argument("--batch", type=int, default=64)
    p.add_argument("--steps", type=int, default=10)
    p.add_argument("--warmup", type=int, default=2)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--device", default="cpu", help="cpu or cuda")
    p.add_argument("--params", action="store_true", help="print the parameter count and exit")
    a = p.parse_args()
    torch.set_num_threads(a.threads)
    torch.manual_seed(0)
    net = network(parse_cell(a.cell), a.channels, a.cells, a.in_channels)
    if a.params:
        print(json.dumps({"params": sum(q.numel() for q in net.parameters())}))
        return
    net = net.to(a.device)
    opt = torch.optim.SGD(net.parameters(), lr=0.05, momentum=0.9, nesterov=True, weight_decay=5e-4)
    x = torch.randn(a.batch, a.in_channels, a.size, a.size, device=a.device)
    y = torch.arange(a.batch, device=a.device) % 10
    loss_fn = nn.CrossEntropyLoss()
    net.train()
    for step in range(a.warmup + a.steps):
        if step == a.warmup:
            t0 = time.perf_counter()
        opt.zero_grad()
        loss = loss_fn(net(x), y)
        loss.backward()
        opt.step()
        # Reading the loss waits for the step, as seminas does (matters on a GPU).
        loss.item()
    dt = time.perf_counter() - t0
    print(json.dumps({"images_per_s": a.steps * a.batch / dt, "seconds_per_step": dt / a.steps,
                      "torch": torch.__version__, "threads": a.threads,
                      "device": a.device}))


if __name__ == "__main__":
    main()
