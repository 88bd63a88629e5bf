"""xor_train.py: trains examples/xor.bp's 2-3-1 network on the XOR table from Python, with its compiled gradient.

The same gradient descent as examples/embed/main.c (the whole table per step, rate 1), so it prints the same
numbers. Run from the repository root after building: PYTHONPATH=python python3 examples/python/xor_train.py
"""
import os

import bp

XOR = os.path.join(os.path.dirname(os.path.abspath(__file__)), os.pardir, "xor.bp")
TABLE = [(0, 0, 0), (0, 1, 1), (1, 0, 1), (1, 1, 0)]  # x1, x2, target

model = bp.compile_file(XOR, of="loss")
params = model.defaults("param")
for step in range(2000):
    grads = [model.gradient(x1=x1, x2=x2, t=t, **params)[1]["loss"] for x1, x2, t in TABLE]
    params = {name: value - sum(g[name] for g in grads) / 4 for name, value in params.items()}

outputs = [model.forward(x1=x1, x2=x2, t=t, **params) for x1, x2, t in TABLE]
print("mean loss after 2000 steps: %.6f" % (sum(out["loss"] for out in outputs) / 4))
for (x1, x2, t), out in zip(TABLE, outputs):
    print("xor(%g, %g) = %.4f (want %g)" % (x1, x2, out["y"], t))
