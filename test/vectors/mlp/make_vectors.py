"""Known-answer vectors for src/learn/fl/mlp.ts, computed by PyTorch (float64, autograd).

Each case is a tiny MLP (torch.nn.Linear layers; weights flattened out × in row-major, then the
biases, layer by layer: the same layout as mlp.ts), a list of batches and local-update options.
The expected parameters are those after `epochs` passes of DP-SGD steps: per-example gradients
from autograd, each scaled to L2 <= clip, averaged over the batch, plus FedProx's mu*(w - w0),
times lr, subtracted. Run: python3 test/vectors/mlp/make_vectors.py > test/vectors/mlp/vectors.json
"""
import json
import math

import torch
import torch.nn.functional as F

torch.set_default_dtype(torch.float64)


def values(n, seed):
    """Deterministic values in (-1, 1): no RNG, so the inputs are reproducible anywhere."""
    return [math.sin(seed * 12.9898 + k * 78.233) for k in range(n)]


def build(sizes, params):
    layers, at = [], 0
    for a, b in zip(sizes[:-1], sizes[1:]):
        lin = torch.nn.Linear(a, b)
        with torch.no_grad():
            lin.weight.copy_(torch.tensor(params[at : at + a * b]).reshape(b, a))
            lin.bias.copy_(torch.tensor(params[at + a * b : at + a * b + b]))
        layers.append(lin)
        at += a * b + b
    return layers


def forward(layers, activation, x):
    h = x
    for k, lin in enumerate(layers):
        h = lin(h)
        if k < len(layers) - 1:
            h = torch.tanh(h) if activation == "tanh" else torch.relu(h)
    return h[0]


def loss_of(output, z, y):
    if output == "binary":
        return F.binary_cross_entropy_with_logits(z, torch.tensor(y))
    return 0.5 * (z - y) ** 2


def flat_grad(layers):
    return torch.cat([t for lin in layers for t in (lin.weight.grad.flatten(), lin.bias.grad)])


def step(case, layers, anchor, batch):
    d, rows, o = case["sizes"][0], batch["rows"], case["options"]
    total = None
    for r in range(rows):
        for lin in layers:
            lin.zero_grad()
        x = torch.tensor(batch["x"][r * d : (r + 1) * d])
        loss_of(case["output"], forward(layers, case["activation"], x), batch["y"][r]).backward()
        g = flat_grad(layers)
        n = torch.linalg.vector_norm(g).item()
        if n > o["clip"]:
            g = g * (o["clip"] / n)
        total = g if total is None else total + g
    w = torch.cat([t.detach() for lin in layers for t in (lin.weight.flatten(), lin.bias)])
    w = w - o["lr"] * (total / rows + o.get("mu", 0) * (w - anchor))
    return build(case["sizes"], w.tolist())


def run(case):
    layers = build(case["sizes"], case["params"])
    anchor = torch.tensor(case["params"])
    for _ in range(case["options"]["epochs"]):
        for batch in case["batches"]:
            layers = step(case, layers, anchor, batch)
    return torch.cat([t.detach() for lin in layers for t in (lin.weight.flatten(), lin.bias)]).tolist()


def case(name, hidden, activation, output, options, batch_rows, seed):
    sizes = [3] + hidden + [1]
    size = sum((a + 1) * b for a, b in zip(sizes[:-1], sizes[1:]))
    batches = []
    for i, rows in enumerate(batch_rows):
        y = values(rows, seed + 100 + i)
        y = [1.0 if v > 0 else 0.0 for v in y] if output == "binary" else [2 * v for v in y]
        batches.append({"x": values(rows * 3, seed + 10 + i), "y": y, "rows": rows})
    c = {
        "name": name,
        "sizes": sizes,
        "activation": activation,
        "output": output,
        "params": values(size, seed),
        "batches": batches,
        "options": options,
    }
    c["expected"] = run(c)
    return c


CASES = [
    case("logistic, one step, clipping binds", [], "tanh", "binary", {"lr": 0.5, "clip": 0.3, "epochs": 1}, [4], 1),
    case("tanh [4, 3] binary, one step", [4, 3], "tanh", "binary", {"lr": 0.1, "clip": 0.5, "epochs": 1}, [5], 2),
    case(
        "relu [5] regression, 2 epochs x 2 batches, fedprox",
        [5],
        "relu",
        "regression",
        {"lr": 0.05, "clip": 1.0, "epochs": 2, "mu": 0.3},
        [3, 4],
        3,
    ),
    case("tanh [4] binary, no clipping", [4], "tanh", "binary", {"lr": 0.2, "clip": 1e6, "epochs": 1}, [6], 4),
]

print(json.dumps({"generator": f"make_vectors.py, torch {torch.__version__}", "cases": CASES}, indent=1))
