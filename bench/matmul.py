#!/usr/bin/env python3
"""bp's `@` against OpenBLAS's dgemm (one thread) on n x n matrices, n = 64, 256, 1024 by default.

For each n: the forward function of `input A[n,n]`, `input B[n,n]`, `node C = A @ B`, `output C`, compiled as
`bpc build -O2` does by bp_bench_forward_object (forward_object.cpp: `bpc build` also compiles the gradient,
whose Jacobian is past bp's size limit at these n), linked with matmul_harness.c and -lopenblas, run with
OPENBLAS_NUM_THREADS=1; the harness times both on the same data and checks bp's result bit for bit against a
C product that adds each element's products in k order from +0. Prints a table with the ratio bp / OpenBLAS
per n; exits 1 if bp's result is not bit-identical to that reference (or a step fails).
Usage: matmul.py [--tool build/bench/bp_bench_forward_object] [--sizes 64,256,1024] [--reps 7] [--min-time 0.05]
[--out DIR]"""
import argparse
import datetime
import os
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)


def run(cmd, **kwargs):
    result = subprocess.run(cmd, capture_output=True, text=True, **kwargs)
    if result.returncode:
        raise RuntimeError(f"{' '.join(cmd)} failed ({result.returncode}):\n{result.stderr[-2000:]}")
    return result.stdout


def measure(n, args, work):
    prefix = f"mm{n}"
    script = os.path.join(work, f"{prefix}.bp")
    with open(script, "w") as f:
        f.write(f"input A[{n},{n}]\ninput B[{n},{n}]\nnode C = A @ B\noutput C\n")
    start = time.perf_counter()
    run([args.tool, script, os.path.join(work, f"{prefix}.o"), prefix, "-O", "2"])
    build_s = time.perf_counter() - start
    program = os.path.join(work, f"{prefix}.bench")
    run(["gcc", "-O2", "-ffp-contract=off", f"-I{ROOT}/runtime", f"-DMM_N={n}", f"-DMM_FORWARD={prefix}_forward",
         os.path.join(HERE, "matmul_harness.c"), os.path.join(HERE, "harness.c"), os.path.join(work, f"{prefix}.o"),
         "-o", program, "-lopenblas", "-lm"])
    env = dict(os.environ, OPENBLAS_NUM_THREADS="1")
    fields = run([program, str(args.reps), str(args.min_time)], env=env).split()
    _, bp_ns, blas_ns, same, elements, max_rel = fields
    return {"n": n, "build_s": build_s, "bp_ns": float(bp_ns), "blas_ns": float(blas_ns), "same": int(same),
            "elements": int(elements), "max_rel": float(max_rel)}


def fmt_time(ns):
    for unit, scale in (("s", 1e9), ("ms", 1e6), ("us", 1e3)):
        if ns >= scale:
            return f"{ns / scale:.3g} {unit}"
    return f"{ns:.3g} ns"


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tool", default=os.path.join(ROOT, "build", "bench", "bp_bench_forward_object"),
                        help="bp_bench_forward_object (built with bp: cmake --build build)")
    parser.add_argument("--sizes", default="64,256,1024")
    parser.add_argument("--reps", type=int, default=7)
    parser.add_argument("--min-time", type=float, default=0.05)
    parser.add_argument("--out", default=os.path.join(HERE, "out", "matmul"))
    args = parser.parse_args()
    args.tool = os.path.abspath(args.tool)
    work = os.path.abspath(args.out)
    os.makedirs(work, exist_ok=True)
    rows = [measure(int(n), args, work) for n in args.sizes.split(",")]
    load = os.getloadavg()
    print(f"bp @ against OpenBLAS dgemm, 1 thread ({args.reps} repetitions of >= {args.min_time} s, median); "
          f"{datetime.datetime.now():%Y-%m-%d %H:%M}; nproc {os.cpu_count()}; load average {load[0]:.1f}")
    print("| n | bp build -O2 | bp | OpenBLAS | bp / OpenBLAS | bp GFLOP/s | OpenBLAS GFLOP/s | bit-equal to k order "
          "| max rel diff to OpenBLAS |")
    print("|---|---|---|---|---|---|---|---|---|")
    failed = False
    for r in rows:
        flops = 2.0 * r["n"] ** 3
        print(f"| {r['n']} | {r['build_s']:.3f} s | {fmt_time(r['bp_ns'])} | {fmt_time(r['blas_ns'])} "
              f"| {r['bp_ns'] / r['blas_ns']:.2f}x | {flops / r['bp_ns']:.1f} | {flops / r['blas_ns']:.1f} "
              f"| {r['same']}/{r['elements']} | {r['max_rel']:.1e} |")
        failed |= r["same"] != r["elements"]
    if failed:
        print("FAILED: bp's product is not the k-order sum bit for bit", file=sys.stderr)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
