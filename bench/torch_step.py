#!/usr/bin/python3
"""The peer to beat on child training: PyTorch's CPU build (Debian python3-torch).

Times one SGD training step (forward, cross-entropy loss, backward, momentum
update) at batch 64 on 3x32x32 input, conv with bias, no batch norm, ReLU, the
same zero-padded concatenation and head as nas's onnxgen, for the benchmark
architectures A, B, C (bench/archs.txt). Prints one line per architecture:
`name images_per_second`. Run with /usr/bin/python3; threads from argv[1].
"""
import sys, time
import torch
import torch.nn as nn
import torch.nn.functional as F


def parse(arch):
    layers = []
    for part in arch.split("|"):
        l = {"kh": None, "kw": None, "sh": 1, "sw": 1, "f": None, "in": []}
        for tok in part.split():
            for key in ("kh", "kw", "sh", "sw", "in", "f"):
                if tok.startswith(key) and tok[len(key):].isdigit():
                    if key == "in":
                        l["in"].append(int(tok[2:]))
                    else:
                        l[key] = int(tok[len(key):])
                    break
        layers.append(l)
    return layers


def cat_padded(xs):
    h = max(x.shape[2] for x in xs)
    w = max(x.shape[3] for x in xs)
    xs = [F.pad(x, (0, w - x.shape[3], 0, h - x.shape[2])) for x in xs]
    return torch.cat(xs, 1) if len(xs) > 1 else xs[0]


class Net(nn.Module):
    def __init__(self, layers, c, classes):
        super().__init__()
        self.layers = layers
        convs = []
        for i, l in enumerate(layers):
            cin = sum(layers[j]["f"] for j in l["in"]) if l["in"] else c
            convs.append(nn.Conv2d(cin, l["f"], (l["kh"], l["kw"]), (l["sh"], l["sw"]),
                                   ((l["kh"] - 1) // 2, (l["kw"] - 1) // 2)))
        self.convs = nn.ModuleList(convs)
        used = {j for l in layers for j in l["in"]}
        self.head = [i for i in range(len(layers)) if i not in used]
        self.fc = nn.Linear(sum(layers[i]["f"] for i in self.head), classes)

    def forward(self, x):
        outs = []
        for l, conv in zip(self.layers, self.convs):
            inp = cat_padded([outs[j] for j in l["in"]]) if l["in"] else x
            outs.append(F.relu(conv(inp)))
        h = cat_padded([outs[i] for i in self.head])
        return self.fc(h.mean((2, 3)))


def main():
    threads = int(sys.argv[1]) if len(sys.argv) > 1 else 2
    torch.set_num_threads(threads)
    torch.manual_seed(0)
    for line in open(sys.argv[2] if len(sys.argv) > 2 else "bench/archs.txt"):
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        name, arch = line.split(":", 1)
        net = Net(parse(arch), 3, 10)
        opt = torch.optim.SGD(net.parameters(), lr=0.01, momentum=0.9, weight_decay=1e-4)
        x = torch.randn(64, 3, 32, 32)
        y = torch.randint(0, 10, (64,))

        def step():
            opt.zero_grad()
            loss = F.cross_entropy(net(x), y)
            loss.backward()
            opt.step()

        for _ in range(3):
            step()
        n, t0 = 0, time.perf_counter()
        while n < 5 or time.perf_counter() - t0 < 3.0:
            step()
            n += 1
        dt = (time.perf_counter() - t0) / n
        print(f"{name.strip()} {64 / dt:.1f}")


if __name__ == "__main__":
    main()
