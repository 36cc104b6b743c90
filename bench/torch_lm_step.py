#!/usr/bin/python3
"""The peer on language-model training: PyTorch's CPU build (Debian python3-torch).

Times one training step of a cell language model at the sizes runner's
BenchmarkLMTrainStep times: 32 streams x 35 steps, hidden 128, embedding
128, one cell, float32; forward over the window, softmax cross-entropy,
backward (autograd's BPTT), torch.nn.utils.clip_grad_norm_(5), plain SGD.
Cells: "lstm" is torch.nn.LSTM; "nascell" is TensorFlow's NASCell written by
hand (the leaves' projections as two matrix products per step, as nas's
graph does). Usage: torch_lm_step.py THREADS CELL VOCAB. Prints
`CELL tokens_per_second`.
"""
import sys
import time

import torch
import torch.nn as nn
import torch.nn.functional as F

threads, cell, V = int(sys.argv[1]), sys.argv[2], int(sys.argv[3])
torch.set_num_threads(threads)
torch.manual_seed(1)
N, T, H = 32, 35, 128


class NASCell(nn.Module):
    def __init__(self, e, h):
        super().__init__()
        self.w = nn.Parameter(torch.empty(e, 8 * h).uniform_(-0.1, 0.1))
        self.u = nn.Parameter(torch.empty(h, 8 * h).uniform_(-0.1, 0.1))
        self.b = nn.Parameter(torch.zeros(8 * h))

    def forward(self, xs, h, c):
        outs = []
        xw = xs @ self.w  # [T, N, 8H], the leaves' input projections at once
        for t in range(xs.shape[0]):
            m = (h @ self.u + self.b).chunk(8, 1)
            i = xw[t].chunk(8, 1)
            l1 = [torch.sigmoid(m[0] + i[0]), F.relu(m[1] + i[1]), torch.sigmoid(m[2] + i[2]), F.relu(m[3] * i[3]),
                  torch.tanh(m[4] + i[4]), torch.sigmoid(m[5] + i[5]), torch.tanh(m[6] + i[6]), torch.sigmoid(m[7] + i[7])]
            l2_0 = torch.tanh(l1[0] * l1[1])
            l2_1 = torch.tanh(l1[2] + l1[3])
            l2_2 = torch.tanh(l1[4] * l1[5])
            l2_3 = torch.sigmoid(l1[6] + l1[7])
            l2_0 = torch.tanh(l2_0 + c)
            c = l2_0 * l2_1
            l3_1 = torch.tanh(l2_2 + l2_3)
            h = torch.tanh(c * l3_1)
            outs.append(h)
        return torch.stack(outs), h, c


class LM(nn.Module):
    def __init__(self):
        super().__init__()
        self.emb = nn.Embedding(V, H)
        self.cell = nn.LSTM(H, H) if cell == "lstm" else NASCell(H, H)
        self.out = nn.Linear(H, V)

    def forward(self, tok, h, c):
        x = self.emb(tok.t())  # [T, N, H]
        if cell == "lstm":
            y, (h, c) = self.cell(x, (h.unsqueeze(0), c.unsqueeze(0)))
            h, c = h.squeeze(0), c.squeeze(0)
        else:
            y, h, c = self.cell(x, h, c)
        return self.out(y), h, c


model = LM()
opt = torch.optim.SGD(model.parameters(), lr=0.5)
tok = torch.randint(V, (N, T))
tgt = torch.randint(V, (N, T))
h = torch.zeros(N, H)
c = torch.zeros(N, H)


def step():
    global h, c
    logits, h, c = model(tok, h.detach(), c.detach())
    loss = F.cross_entropy(logits.reshape(-1, V), tgt.t().reshape(-1))
    opt.zero_grad()
    loss.backward()
    torch.nn.utils.clip_grad_norm_(model.parameters(), 5.0)
    opt.step()


for _ in range(3):
    step()
n, t0 = 0, time.perf_counter()
while n < 10 or time.perf_counter() - t0 < 2.0:
    step()
    n += 1
print(cell, n * N * T / (time.perf_counter() - t0))
