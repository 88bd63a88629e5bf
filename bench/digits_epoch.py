#!/usr/bin/env python3
"""One epoch of minibatch SGD on the 8x8 digits: bp (`bpc train`) against PyTorch and NumPy written by hand.

The network: 64 pixels -> 32 tanh -> 10, log_softmax, loss = the negative log-likelihood of the label, a
step = SGD on the mean gradient over a batch of 32 rows, the rows in file order (no shuffling), a batch that
runs past the last row wrapping around to the first (as `bpc train --batch` does: 57 steps of 32 rows make one
epoch of 1,797). The initial weights are drawn once here (NumPy, fixed seed) and written both as the literals
of the bp script and as the PyTorch and NumPy arrays; every column uses doubles.

Columns, measured in one run:
  bp       `bpc train SCRIPT --data FILE --columns x,label --batch 32 --epochs E --rate R --minimize loss`;
           the whole process for 1 epoch (median of --runs), and bp's own time per epoch, isolated as
           (time of 11 epochs - time of 1 epoch) / 10, which leaves out start-up, compiling and the report.
  torch    PyTorch (float64, CPU), torch.set_num_threads(1) and the default thread count: one epoch's loop
           (forward, backward, update for each batch), median of --runs epochs, each from the initial weights.
  numpy    the same forward and backward by hand, each batch's gradient the per-row gradients added in row
           order from +0 (as bp adds them) and divided by the batch size.

Checks: after one epoch, the mean loss over all rows (what `bpc train` reports) of bp and of PyTorch must agree
with NumPy's within 1e-9 relative; exits 1 otherwise. Usage: digits_epoch.py [--bpc build/bpc]
[--data digits.csv.gz] [--rate 0.02] [--runs 5] [--out DIR]. Run it with /usr/bin/python3 (NumPy, PyTorch).
"""
import argparse
import datetime
import gzip
import json
import os
import statistics
import subprocess
import sys
import time

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
DEFAULT_DATA = "/tmp/x/usr/lib/python3/dist-packages/sklearn/datasets/data/digits.csv.gz"
BATCH, HIDDEN, CLASSES, SEED = 32, 32, 10, 1797
TOLERANCE = 1e-9


def initial_weights():
    """W1 [64,32], b1 [32], W2 [32,10], b2 [10]: small normal weights (the pixels are 0..16), biases 0. Small
    enough, with the rate, that an epoch is stable: with larger ones (W1 0.02, W2 0.3, rate 0.05) two exact
    implementations drift apart, rounding differences growing tenfold every step or two."""
    random = np.random.RandomState(SEED)
    return {"W1": random.normal(0, 0.01, (64, HIDDEN)), "b1": np.zeros(HIDDEN),
            "W2": random.normal(0, 0.1, (HIDDEN, CLASSES)), "b2": np.zeros(CLASSES)}


def literal(array):
    """A bp literal of exactly these doubles (repr round-trips)."""
    if array.ndim == 1:
        return "[" + ", ".join(repr(float(v)) for v in array) + "]"
    return "[" + ",\n  ".join(literal(row) for row in array) + "]"


def write_script(path, weights):
    """The bp script. x has a default (0, replaced row by row): `bpc train --data` of a tensor input declared
    without one is a bug of the bpc this was written with (its argument values come out too short)."""
    with open(path, "w") as f:
        f.write("# digits: 64 pixels -> 32 tanh -> 10, log_softmax, negative log-likelihood (digits_epoch.py)\n"
                "input x[64] = 0\ninput label = 0\n")
        for name, array in weights.items():
            shape = ",".join(str(d) for d in array.shape)
            f.write(f"param {name}[{shape}] = {literal(array)}\n")
        f.write("node h = tanh(x @ W1 + b1)\nnode loss = -log_softmax(h @ W2 + b2)[label]\noutput loss\n")


def load_rows(path):
    with gzip.open(path, "rt") as f:
        rows = np.array([[float(v) for v in line.split(",")] for line in f if line.strip()])
    return rows[:, :64].copy(), rows[:, 64].astype(np.int64)


def batches(rows, epochs):
    """Row indices of each step: BATCH rows in file order, wrapping around (bpc train's cursor)."""
    steps = epochs * ((rows + BATCH - 1) // BATCH)
    return [np.arange(s * BATCH, (s + 1) * BATCH) % rows for s in range(steps)]


# ---------------------------------------------------------------------------------------------------------
# bp


def run_bp(args, script, epochs):
    cmd = [args.bpc, "train", script, "--data", args.data, "--columns", "x,label", "--batch", str(BATCH),
           "--epochs", str(epochs), "--rate", repr(args.rate), "--minimize", "loss", "--json", "--quiet"]
    start = time.perf_counter()
    result = subprocess.run(cmd, capture_output=True, text=True)
    wall = time.perf_counter() - start
    if result.returncode:
        raise RuntimeError(f"{' '.join(cmd)} failed ({result.returncode}):\n{result.stderr[-2000:]}")
    return wall, json.loads(result.stdout)


# ---------------------------------------------------------------------------------------------------------
# NumPy by hand


def numpy_epoch(weights, x, labels, steps, rate):
    W1, b1, W2, b2 = (weights[k].copy() for k in ("W1", "b1", "W2", "b2"))
    for rows in steps:
        xb, yb = x[rows], labels[rows]
        h = np.tanh(xb @ W1 + b1)
        z = h @ W2 + b2
        e = np.exp(z - z.max(axis=1, keepdims=True))
        dz = e / e.sum(axis=1, keepdims=True)
        dz[np.arange(len(rows)), yb] -= 1.0
        dh = (dz @ W2.T) * (1.0 - h * h)
        # per-row gradients, added in row order from +0
        gW1, gb1, gW2, gb2 = np.zeros_like(W1), np.zeros_like(b1), np.zeros_like(W2), np.zeros_like(b2)
        for r in range(len(rows)):
            gW1 += np.outer(xb[r], dh[r])
            gb1 += dh[r]
            gW2 += np.outer(h[r], dz[r])
            gb2 += dz[r]
        for value, grad in ((W1, gW1), (b1, gb1), (W2, gW2), (b2, gb2)):
            value -= rate * (grad / len(rows))
    return {"W1": W1, "b1": b1, "W2": W2, "b2": b2}


def numpy_mean_loss(weights, x, labels):
    z = np.tanh(x @ weights["W1"] + weights["b1"]) @ weights["W2"] + weights["b2"]
    shifted = z - z.max(axis=1, keepdims=True)
    losses = -(shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True)))[np.arange(len(labels)), labels]
    total = 0.0
    for value in losses:  # in row order from +0, then divided (bpc train's mean)
        total += value
    return total / len(labels)


# ---------------------------------------------------------------------------------------------------------
# PyTorch


def torch_epoch(torch, weights, x, labels, steps, rate):
    params = [torch.tensor(weights[k], requires_grad=True) for k in ("W1", "b1", "W2", "b2")]
    W1, b1, W2, b2 = params
    for rows in steps:
        h = torch.tanh(x[rows] @ W1 + b1)
        loss = torch.nn.functional.nll_loss(torch.log_softmax(h @ W2 + b2, dim=1), labels[rows])
        loss.backward()
        with torch.no_grad():
            for p in params:
                p -= rate * p.grad
                p.grad = None
    return {k: p.detach().numpy() for k, p in zip(("W1", "b1", "W2", "b2"), params)}


def time_epochs(function, runs):
    times, result = [], None
    for _ in range(runs + 1):  # the first is a warm-up
        start = time.perf_counter()
        result = function()
        times.append(time.perf_counter() - start)
    return statistics.median(times[1:]), result


def rel(a, b):
    return abs(a - b) / max(abs(a), abs(b))


def fmt(seconds):
    return f"{seconds * 1e3:.3g} ms" if seconds < 1 else f"{seconds:.3g} s"


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--bpc", default=os.path.join(ROOT, "build", "bpc"))
    parser.add_argument("--data", default=DEFAULT_DATA, help="digits.csv.gz (see bench/README.md)")
    parser.add_argument("--rate", type=float, default=0.02)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--out", default=os.path.join(HERE, "out", "digits"))
    args = parser.parse_args()
    args.bpc, args.data = os.path.abspath(args.bpc), os.path.abspath(args.data)
    if not os.path.exists(args.data):
        parser.error(f"no data at {args.data} (see bench/README.md: digits-epoch)")
    import torch  # only now: --help works without it

    work = os.path.abspath(args.out)
    os.makedirs(work, exist_ok=True)
    weights = initial_weights()
    script = os.path.join(work, "digits.bp")
    write_script(script, weights)
    x, labels = load_rows(args.data)
    steps = batches(len(labels), 1)

    bp1 = [run_bp(args, script, 1) for _ in range(args.runs)]
    bp11 = [run_bp(args, script, 11) for _ in range(args.runs)]
    bp_process = statistics.median(w for w, _ in bp1)
    bp_epoch = (statistics.median(w for w, _ in bp11) - bp_process) / 10
    bp_loss = bp1[0][1]["outputs"]["loss"]

    numpy_s, numpy_weights = time_epochs(lambda: numpy_epoch(weights, x, labels, steps, args.rate), args.runs)
    numpy_loss = numpy_mean_loss(numpy_weights, x, labels)

    tx, tlabels = torch.tensor(x), torch.tensor(labels)
    default_threads = torch.get_num_threads()
    torch.set_num_threads(1)
    torch1_s, torch_weights = time_epochs(lambda: torch_epoch(torch, weights, tx, tlabels, steps, args.rate),
                                          args.runs)
    torch.set_num_threads(default_threads)
    torch_default_s, _ = time_epochs(lambda: torch_epoch(torch, weights, tx, tlabels, steps, args.rate), args.runs)
    torch_loss = numpy_mean_loss(torch_weights, x, labels)

    bp_weights = {k: np.array(v) for k, v in bp1[0][1]["values"].items()}
    load = os.getloadavg()
    print(f"digits-epoch: 1,797 rows, 64 -> {HIDDEN} tanh -> {CLASSES}, batch {BATCH}, {len(steps)} steps, "
          f"rate {args.rate}; median of {args.runs}; {datetime.datetime.now():%Y-%m-%d %H:%M}; nproc "
          f"{os.cpu_count()}; load average {load[0]:.1f}; torch {torch.__version__}, numpy {np.__version__}")
    rows = [
        ("bp: whole process, 1 epoch", bp_process),
        ("bp: per epoch ((11 epochs - 1 epoch) / 10)", bp_epoch),
        ("PyTorch, 1 thread", torch1_s),
        (f"PyTorch, default threads ({default_threads})", torch_default_s),
        ("NumPy by hand", numpy_s),
    ]
    print("| column | time | PyTorch 1 thread / column |")
    print("|---|---|---|")
    for name, seconds in rows:
        print(f"| {name} | {fmt(seconds)} | {torch1_s / seconds:.2f}x |")
    print(f"bp per epoch against PyTorch (1 thread): {torch1_s / bp_epoch:.2f}x as fast (goal: 3x)")
    print(f"mean loss after 1 epoch: bp {bp_loss!r}, PyTorch {torch_loss!r}, NumPy {numpy_loss!r}")
    weight_diff = max(float(np.max(np.abs(bp_weights[k] - numpy_weights[k]))) for k in numpy_weights)
    print(f"rel diff to NumPy: bp {rel(bp_loss, numpy_loss):.1e}, PyTorch {rel(torch_loss, numpy_loss):.1e}; "
          f"largest |bp weight - NumPy weight| {weight_diff:.1e}")
    failed = not (rel(bp_loss, numpy_loss) <= TOLERANCE and rel(torch_loss, numpy_loss) <= TOLERANCE)
    if failed:
        print(f"FAILED: the losses differ by more than {TOLERANCE} relative", file=sys.stderr)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
