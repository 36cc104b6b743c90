#!/usr/bin/python3
"""The peer to beat on a whole child: PyTorch's CPU build (Debian python3-torch).

Does the work of one child evaluation of `make search` (runner's
BenchmarkChild times nas doing the same): build the network (conv with bias,
batch norm, ReLU, the zero-padded concatenation and head of nas's onnxgen)
and its SGD optimizer (lr 0.1 annealed per step by a half cosine, momentum
0.9, weight decay 1e-4), train one epoch on 5,000 Fashion-MNIST-sized images
(1x28x28, 10 classes) in shuffled batches of 64 (the last partial batch
dropped, 78 steps), then evaluate on 1,000 validation images in batches of 64
(eval mode, no_grad). The images are Fashion-MNIST's first 5,000 and next
1,000 training images when the IDX files are in $NAS_DATA/fashion-mnist
(normalised as nas does: the training part's mean and std), else Gaussian
noise of the same sizes. Prints, per architecture of the file in argv[2]
(bench/archs.txt's format), `name child_seconds steps_seconds`: the mean over
argv[3] children (default 3) after one untimed child. Threads from argv[1].
"""
import gzip, math, os, sys, time
import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from torch_step import parse, cat_padded  # noqa: E402  (the same architecture reading)

TRAIN, VAL, BATCH, CLASSES = 5000, 1000, 64, 10


class Net(nn.Module):
    def __init__(self, layers, c, classes):
        super().__init__()
        self.layers = layers
        convs, bns = [], []
        for l in layers:
            cin = sum(layers[j]["f"] for j in l["in"]) if l["in"] else c
            convs.append(nn.Conv2d(cin, l["f"], (l["kh"], l["kw"]), (l["sh"], l["sw"]),
                                   ((l["kh"] - 1) // 2, (l["kw"] - 1) // 2)))
            bns.append(nn.BatchNorm2d(l["f"], eps=1e-5, momentum=0.1))
        self.convs, self.bns = nn.ModuleList(convs), nn.ModuleList(bns)
        used = {j for l in layers for j in l["in"]}
        self.head = [i for i in range(len(layers)) if i not in used]
        self.fc = nn.Linear(sum(layers[i]["f"] for i in self.head), classes)

    def forward(self, x):
        outs = []
        for l, conv, bn in zip(self.layers, self.convs, self.bns):
            inp = cat_padded([outs[j] for j in l["in"]]) if l["in"] else x
            outs.append(F.relu(bn(conv(inp))))
        h = cat_padded([outs[i] for i in self.head])
        return self.fc(h.mean((2, 3)))


def data():
    d = os.path.join(os.environ.get("NAS_DATA", ".data"), "fashion-mnist")
    try:
        with gzip.open(os.path.join(d, "train-images-idx3-ubyte.gz")) as f:
            x = np.frombuffer(f.read(), np.uint8, offset=16).reshape(-1, 1, 28, 28)[:TRAIN + VAL]
        with gzip.open(os.path.join(d, "train-labels-idx1-ubyte.gz")) as f:
            y = np.frombuffer(f.read(), np.uint8, offset=8)[:TRAIN + VAL]
        x = torch.tensor(x, dtype=torch.float32) / 255
        y = torch.tensor(y, dtype=torch.int64)
    except OSError:
        x = torch.randn(TRAIN + VAL, 1, 28, 28)
        y = torch.randint(0, CLASSES, (TRAIN + VAL,))
    mean, std = x[:TRAIN].mean(), x[:TRAIN].std()
    x = (x - mean) / std
    return x[:TRAIN].contiguous(), y[:TRAIN].contiguous(), x[TRAIN:].contiguous(), y[TRAIN:].contiguous()


def child(layers, xt, yt, xv, yv, seed):
    """One child: returns (seconds, seconds inside the training steps)."""
    t0 = time.perf_counter()
    torch.manual_seed(seed)
    net = Net(layers, 1, CLASSES)
    opt = torch.optim.SGD(net.parameters(), lr=0.1, momentum=0.9, weight_decay=1e-4)
    steps = TRAIN // BATCH
    perm = torch.randperm(TRAIN)
    net.train()
    in_steps = 0.0
    for b in range(steps):
        for g in opt.param_groups:
            g["lr"] = 0.1 * 0.5 * (1 + math.cos(math.pi * b / steps))
        idx = perm[b * BATCH:(b + 1) * BATCH]
        x, y = xt[idx], yt[idx]
        s = time.perf_counter()
        opt.zero_grad()
        loss = F.cross_entropy(net(x), y)
        loss.backward()
        opt.step()
        loss.item()  # nas reads every step's loss (divergence check)
        in_steps += time.perf_counter() - s
    net.eval()
    correct = 0
    with torch.no_grad():
        for s in range(0, VAL, BATCH):
            logits = net(xv[s:s + BATCH])
            F.cross_entropy(logits, yv[s:s + BATCH])
            correct += (logits.argmax(1) == yv[s:s + BATCH]).sum().item()
    return time.perf_counter() - t0, in_steps


def main():
    threads = int(sys.argv[1]) if len(sys.argv) > 1 else 2
    torch.set_num_threads(threads)
    n = int(sys.argv[3]) if len(sys.argv) > 3 else 3
    xt, yt, xv, yv = data()
    for line in open(sys.argv[2] if len(sys.argv) > 2 else "bench/archs.txt"):
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        name, arch = line.split(":", 1)
        layers = parse(arch)
        child(layers, xt, yt, xv, yv, 0)
        runs = [child(layers, xt, yt, xv, yv, i + 1) for i in range(n)]
        print(f"{name.strip()} {sum(r[0] for r in runs) / n:.3f} {sum(r[1] for r in runs) / n:.3f}")


if __name__ == "__main__":
    main()
