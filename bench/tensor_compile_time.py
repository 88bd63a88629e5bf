#!/usr/bin/env python3
"""Compile time of tensor code does not follow tensor sizes: `bpc build` of one n x n matrix product and two
reductions into a scalar output (the forward function and the gradient, with its two more products), at n = 4
and n = 256 (best of --runs), must take under 1 s and the 256 case at most 1.5 times the 4 case. Exits 1
otherwise. Usage: tensor_compile_time.py --bpc build/bpc [--runs 5] [-O 2]"""
import argparse
import os
import subprocess
import sys
import tempfile
import time

SCRIPT = ("input a[{n},{n}] = 1\ninput b[{n},{n}] = 2\nnode c = a @ b\nnode f = sum(c, axis=0)\n"
          "node g = mean(c) + sum(f)\noutput g\n")


def best_build_time(bpc, folder, n, runs, opt):
    path = os.path.join(folder, f"m{n}.bp")
    with open(path, "w") as f:
        f.write(SCRIPT.format(n=n))
    best = float("inf")
    for _ in range(runs):
        start = time.perf_counter()
        subprocess.run([bpc, "build", path, f"-O{opt}", "-o", os.path.join(folder, f"m{n}.o"),
                        "--header", os.path.join(folder, f"m{n}.h")], check=True)
        best = min(best, time.perf_counter() - start)
    return best


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--bpc", required=True)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("-O", dest="opt", type=int, default=2)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        small = best_build_time(args.bpc, folder, 4, args.runs, args.opt)
        large = best_build_time(args.bpc, folder, 256, args.runs, args.opt)
    ratio = large / small
    print(f"bpc build -O{args.opt}: 4x4 {small:.3f} s, 256x256 {large:.3f} s, ratio {ratio:.2f}")
    if large >= 1.0 or ratio > 1.5:
        print("too slow: the 256x256 build must take under 1 s and at most 1.5x the 4x4 one", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
