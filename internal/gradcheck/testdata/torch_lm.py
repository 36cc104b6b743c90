"""One training step of a cell language model in PyTorch (float64), written
from the cell language's definition (onnxgen/cell.go), independently of
onnxgen: autograd for BPTT, torch.nn.utils.clip_grad_norm_, plain SGD.

Usage: torch_lm.py DIR. DIR holds spec.json (sizes, the cell, lr, clip,
parameter names and shapes), params.f32 (every parameter flattened, in
order), tokens.i64 and targets.i64 ([batch, steps]) and state.f32 (l0.h,
l0.c, l1.h, ... each [batch, hidden]). Writes result.json (loss, the gradient
norm before clipping) and params.f64 (the parameters after the step), state.f64
(the states after the window). With spec["lstm"] the cell must be the LSTM
of the cell language: its h and c over the window are also computed by
torch.nn.LSTM with the weights mapped (gates i = leaf 0, g = leaf 1,
f = leaves 2+3, o = leaves 4+5+6+7) and the largest difference reported.
"""
import json
import sys

import numpy as np
import torch

torch.set_default_dtype(torch.float64)
d = sys.argv[1]
spec = json.load(open(d + "/spec.json"))
V, E, H, L, T, N = (spec[k] for k in ("vocab", "embed", "hidden", "layers", "steps", "batch"))
cell = spec["cell"]
B = cell["base"]
nodes = cell["nodes"]  # [comb, act]: comb 0 add, 1 mul; act 0 identity, 1 tanh, 2 sigmoid, 3 relu
inj_comb, inj_act = cell["inject"]
inject_at, cell_from = cell["inject_at"], cell["cell_from"]

flat = np.fromfile(d + "/params.f32", dtype="<f4").astype(np.float64)
P, off = {}, 0
for p in spec["params"]:
    n = int(np.prod(p["shape"]))
    P[p["name"]] = torch.tensor(flat[off:off + n].reshape(p["shape"]), requires_grad=True)
    off += n
assert off == flat.size
names = [p["name"] for p in spec["params"]]
tokens = torch.tensor(np.fromfile(d + "/tokens.i64", dtype="<i8").reshape(N, T))
targets = torch.tensor(np.fromfile(d + "/targets.i64", dtype="<i8").reshape(N, T))
st = np.fromfile(d + "/state.f32", dtype="<f4").astype(np.float64).reshape(L, 2, N, H)

# children of every node: level order, leaves first
kids = [None] * (2 * B - 1)
start, size = 0, B
while size > 1:
    for j in range(size // 2):
        kids[start + size + j] = (start + 2 * j, start + 2 * j + 1)
    start, size = start + size, size // 2


def act(a, x):
    return [lambda v: v, torch.tanh, torch.sigmoid, torch.relu][a](x)


def comb(c, x, y):
    return x + y if c == 0 else x * y


def cell_step(x, h, c, W, U, b):
    xw, hu = x @ W, h @ U + b
    out, pre = [None] * len(nodes), [None] * len(nodes)
    for k, (cb, a) in enumerate(nodes):
        if k < B:
            pre[k] = comb(cb, xw[:, k * H:(k + 1) * H], hu[:, k * H:(k + 1) * H])
        else:
            l, r = kids[k]
            pre[k] = comb(cb, out[l], out[r])
        o = act(a, pre[k])
        if k == inject_at:
            o = act(inj_act, comb(inj_comb, o, c))
        out[k] = o
    return out[-1], pre[cell_from]


x = P["emb"][tokens]  # [N, T, E]
final, seqs = [], []
for l in range(L):
    h, c = torch.tensor(st[l, 0]), torch.tensor(st[l, 1])
    hs, cs = [], []
    for t in range(T):
        h, c = cell_step(x[:, t], h, c, P["l%d.w" % l], P["l%d.u" % l], P["l%d.b" % l])
        hs.append(h)
        cs.append(c)
    final += [h.detach().numpy(), c.detach().numpy()]
    seqs.append((torch.stack(hs, 1), torch.stack(cs, 1)))
    x = torch.stack(hs, 1)  # [N, T, H]
logits = x @ P["out.w"] + P["out.b"]
loss = torch.nn.functional.cross_entropy(logits.reshape(-1, V), targets.reshape(-1))
loss.backward()
params = [P[n] for n in names]
if spec["clip"] > 0:
    norm = float(torch.nn.utils.clip_grad_norm_(params, spec["clip"]))
else:
    norm = float(torch.sqrt(sum((p.grad ** 2).sum() for p in params)))
with torch.no_grad():
    for p in params:
        p -= spec["lr"] * p.grad
res = {"loss": float(loss), "norm": norm}

if spec.get("lstm"):
    # torch.nn.LSTM's gates (i, f, g, o) from the cell's leaves.
    with torch.no_grad():
        x = P["emb"].detach().new_tensor(flat[:V * E].reshape(V, E))[tokens]
        off = V * E
        worst = 0.0
        for l in range(L):
            fin = E if l == 0 else H
            W = torch.tensor(flat[off:off + fin * B * H].reshape(fin, B * H)); off += fin * B * H
            U = torch.tensor(flat[off:off + H * B * H].reshape(H, B * H)); off += H * B * H
            b = torch.tensor(flat[off:off + B * H]); off += B * H
            blk = lambda M, *ks: sum(M[..., k * H:(k + 1) * H] for k in ks)
            gates = [(0,), (2, 3), (1,), (4, 5, 6, 7)]  # i, f, g, o
            lstm = torch.nn.LSTM(fin, H, batch_first=True)
            lstm.weight_ih_l0.copy_(torch.cat([blk(W, *g).T for g in gates]))
            lstm.weight_hh_l0.copy_(torch.cat([blk(U, *g).T for g in gates]))
            lstm.bias_ih_l0.copy_(torch.cat([blk(b, *g) for g in gates]))
            lstm.bias_hh_l0.zero_()
            h0 = torch.tensor(st[l, 0]).unsqueeze(0)
            c0 = torch.tensor(st[l, 1]).unsqueeze(0)
            y, (hT, cT) = lstm(x, (h0, c0))
            hs, cs = seqs[l]
            worst = max(worst, float((y - hs).abs().max()), float((cT[0] - cs[:, -1]).abs().max()))
            x = y
        res["lstm_diff"] = worst

json.dump(res, open(d + "/result.json", "w"))
np.concatenate([P[n].detach().numpy().ravel() for n in names]).astype("<f8").tofile(d + "/params.f64")
np.concatenate([f.ravel() for f in final]).astype("<f8").tofile(d + "/state.f64")
