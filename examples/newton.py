#!/usr/bin/env python3
"""Newton's method on examples/newton.bp with bp's gradient and Hessian.

Each step asks `bpc run --grad --hessian f --json` for g and H at the current point, solves H s = -g (2 x 2,
by Cramer's rule) and moves to the point + s, passed back with --set.

    python3 examples/newton.py [--bpc PATH] [--steps N]
"""
import argparse
import json
import subprocess
from pathlib import Path


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--bpc", default="build/bpc", help="the bpc to run (default: build/bpc)")
    parser.add_argument("--steps", type=int, default=6, help="Newton steps to take (default: 6)")
    args = parser.parse_args()
    script = Path(__file__).with_name("newton.bp")
    x, y = -1.2, 1.0
    for step in range(args.steps + 1):
        result = json.loads(subprocess.run(
            [args.bpc, "run", str(script), "--grad", "--hessian", "f", "--json",
             "--set", f"x={x!r}", "--set", f"y={y!r}"],
            check=True, capture_output=True, text=True).stdout)
        f = result["outputs"]["f"]
        g = result["gradients"]["f"]
        h = result["hessian"]["f"]
        print(f"step {step}: x = {x!r}, y = {y!r}, f = {f!r}")
        if step == args.steps:
            break
        gx, gy = g["x"], g["y"]
        hxx, hxy, hyx, hyy = h["x"]["x"], h["x"]["y"], h["y"]["x"], h["y"]["y"]
        det = hxx * hyy - hxy * hyx
        x, y = x - (hyy * gx - hxy * gy) / det, y - (hxx * gy - hyx * gx) / det


if __name__ == "__main__":
    main()
