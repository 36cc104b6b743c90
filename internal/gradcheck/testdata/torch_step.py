#!/usr/bin/python3
"""Reference for nas's training-step graphs: PyTorch autograd + torch.optim.SGD.

Usage: /usr/bin/python3 torch_step.py DIR

DIR holds what the Go test (internal/gradcheck) wrote:
  spec.json    the architecture and the run: {"c","h","w","classes","batch",
               "layers": [{"kh","kw","sh","sw","filters","inputs","bn","pool"}],
               "params": [{"name","shape"}], "lr","momentum","weight_decay",
               "nesterov","steps","bn_eps","bn_momentum"}
  params.f32   every parameter, in list order, float32 little-endian
  image.f32    the batch, NCHW float32 little-endian
  label.i64    the labels, int64 little-endian
and receives, computed in float64:
  params_K.f64 the parameters after step K (K = 1..steps), list order
  result.json  {"loss": [loss of each step, before its update], "correct": [...]}

The network is built here independently of onnxgen, from the rules of the
architecture language: a layer's inputs (earlier layers; none = the image) are
zero-padded at the bottom/right to the largest height and width among them and
concatenated along channels; conv with 'same' padding ((k-1)/2 on each side,
output = ceil(in/stride)), optional batch norm (training mode: batch statistics, running
statistics updated with momentum bn_momentum and the unbiased variance, as
PyTorch does), ReLU, and with "pool" P > 0 a P×P max pool with stride P
(F.max_pool2d's floor mode). Every layer output no later layer uses goes to the head,
padded and concatenated the same way, then global average pooling and a fully
connected layer. Loss: mean softmax cross-entropy.
"""
import json
import math
import os
import sys

import numpy as np
import torch
import torch.nn.functional as F


def same_pads(size, k, s):
    return (k - 1) // 2, (k - 1) // 2


def concat_padded(xs):
    h = max(x.shape[2] for x in xs)
    w = max(x.shape[3] for x in xs)
    xs = [F.pad(x, (0, w - x.shape[3], 0, h - x.shape[2])) for x in xs]
    return torch.cat(xs, dim=1)


def forward(spec, p, image):
    outs = []
    used = set()
    for i, l in enumerate(spec["layers"]):
        if l["inputs"]:
            x = concat_padded([outs[j] for j in l["inputs"]])
            used.update(l["inputs"])
        else:
            x = image
        t, b = same_pads(x.shape[2], l["kh"], l["sh"])
        le, r = same_pads(x.shape[3], l["kw"], l["sw"])
        x = F.pad(x, (le, r, t, b))
        y = F.conv2d(x, p[f"l{i}.conv.w"], p[f"l{i}.conv.b"], stride=(l["sh"], l["sw"]))
        if l.get("bn"):
            y = F.batch_norm(y, p[f"l{i}.bn.mean"], p[f"l{i}.bn.var"], p[f"l{i}.bn.scale"],
                             p[f"l{i}.bn.bias"], training=True,
                             momentum=spec.get("bn_momentum", 0.1), eps=spec.get("bn_eps", 1e-5))
        y = F.relu(y)
        if l.get("pool"):
            # MaxPool2d(kernel p, stride p): floor mode, no padding; on ties
            # the gradient goes to the first maximum in row-major order.
            y = F.max_pool2d(y, l["pool"], stride=l["pool"])
        outs.append(y)
    head = [o for i, o in enumerate(outs) if i not in used]
    x = concat_padded(head).mean(dim=(2, 3))
    return F.linear(x, p["head.fc.w"], p["head.fc.b"])


def main():
    d = sys.argv[1]
    with open(os.path.join(d, "spec.json")) as f:
        spec = json.load(f)
    torch.set_num_threads(1)
    flat = np.fromfile(os.path.join(d, "params.f32"), dtype="<f4").astype(np.float64)
    p, order, off = {}, [], 0
    for q in spec["params"]:
        n = int(np.prod(q["shape"]))
        p[q["name"]] = torch.tensor(flat[off:off + n].reshape(q["shape"]))
        order.append(q["name"])
        off += n
    if off != flat.size:
        sys.exit(f"torch_step: params.f32 has {flat.size} values, spec wants {off}")
    n, c, h, w = spec["batch"], spec["c"], spec["h"], spec["w"]
    image = torch.tensor(np.fromfile(os.path.join(d, "image.f32"), dtype="<f4")
                         .astype(np.float64).reshape(n, c, h, w))
    label = torch.tensor(np.fromfile(os.path.join(d, "label.i64"), dtype="<i8"))
    # Running statistics are state, not trained parameters.
    trained = [p[k] for k in order if not (k.endswith(".bn.mean") or k.endswith(".bn.var"))]
    for t in trained:
        t.requires_grad_(True)
    opt = torch.optim.SGD(trained, lr=spec["lr"], momentum=spec["momentum"],
                          weight_decay=spec["weight_decay"], nesterov=spec["nesterov"])
    losses, correct = [], []
    for k in range(1, spec["steps"] + 1):
        opt.zero_grad()
        logits = forward(spec, p, image)
        loss = F.cross_entropy(logits, label)
        losses.append(loss.item())
        correct.append(int((logits.argmax(dim=1) == label).sum().item()))
        loss.backward()
        opt.step()
        with torch.no_grad():
            out = np.concatenate([p[k2].detach().numpy().ravel() for k2 in order])
        out.astype("<f8").tofile(os.path.join(d, f"params_{k}.f64"))
    with open(os.path.join(d, "result.json"), "w") as f:
        json.dump({"loss": losses, "correct": correct}, f)


if __name__ == "__main__":
    main()
