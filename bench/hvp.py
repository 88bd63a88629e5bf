#!/usr/bin/env python3
"""A Hessian-vector product against one gradient: PREFIX_hvp and PREFIX_gradient of `bpc build -O2 --emit-fn
gradient,hvp`, timed side by side in one process, on bench's workloads (nested, mlp-16, mlp-64 by default).

For each workload (bench/generate.py): `bpc build -O2 --emit-fn gradient,hvp` of W.bp, linked with
hvp_harness.c (gcc -O2) and harness.c, which calls PREFIX_gradient and PREFIX_hvp through pointers, calibrates
the calls per repetition (doubling until one takes --min-time), runs --reps repetitions of each, interleaved,
and takes the median per call; it then checks H v (v fixed pseudo-random in [-1, 1)) against central differences
of the compiled gradient along v, (grad(in + h v) - grad(in - h v)) / 2h with h = 1e-5. Prints a table with the
ratio hvp / gradient per workload; exits 1 if a difference is above --tolerance (relative to max(1, |H v|)) or
a step fails. Forward over reverse should cost a small constant times one gradient (the goal: at most 4x).
Usage: hvp.py [--bpc build/bpc] [--workloads nested,mlp-16,mlp-64] [--quick] [--reps 7] [--min-time 0.05]
[--tolerance 1e-6] [--out DIR]"""
import argparse
import datetime
import os
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path.insert(0, HERE)
import generate  # noqa: E402
from matmul import fmt_time  # noqa: E402

WORKLOADS = ["nested", "mlp-16", "mlp-64"]
QUICK = ["nested", "mlp-16"]
GOAL = 4.0  # hvp / gradient on mlp-64


def run(cmd, **kwargs):
    result = subprocess.run(cmd, capture_output=True, text=True, **kwargs)
    if result.returncode:
        raise RuntimeError(f"{' '.join(cmd)} failed ({result.returncode}):\n{result.stderr[-2000:]}")
    return result.stdout


def measure(name, args, work, harness_o):
    meta = generate.generate(name, work)
    prefix, stem = meta["prefix"], os.path.join(work, name)
    start = time.perf_counter()
    run([args.bpc, "build", "-O2", f"{stem}.bp", "--name", prefix, "-o", f"{stem}.hvp.o", "--header",
         f"{stem}.hvp.h", "--emit-fn", "gradient,hvp"])
    build_s = time.perf_counter() - start
    program = f"{stem}.hvp"
    run(["gcc", "-O2", f"-I{ROOT}/runtime", f"-DBENCH_PREFIX={prefix}", f"-DBENCH_NUM_IN={meta['num_in']}",
         f"-DBENCH_NUM_OUT={meta['num_out']}", os.path.join(HERE, "hvp_harness.c"), harness_o, f"{stem}.hvp.o",
         "-o", program, "-lm"])
    fields = {}
    for line in run([program, f"{stem}.in", "--reps", str(args.reps), "--min-time", str(args.min_time)]).splitlines():
        key, *values = line.split()
        fields[key] = values
    return {"name": name, "nodes": meta["nodes"], "num_in": meta["num_in"], "build_s": build_s,
            "gradient_ns": float(fields["gradient_ns"][0]), "hvp_ns": float(fields["hvp_ns"][0]),
            "max_err": float(fields["max_err"][0])}


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--bpc", default=os.path.join(ROOT, "build", "bpc"), help="the bpc binary (default build/bpc)")
    parser.add_argument("--workloads", help="comma-separated, from: " + ", ".join(generate.ALL_WORKLOADS) +
                        f" (default {','.join(WORKLOADS)})")
    parser.add_argument("--quick", action="store_true", help=f"only {', '.join(QUICK)}, few repetitions")
    parser.add_argument("--reps", type=int, help="timed repetitions per function (median; default 7, quick 3)")
    parser.add_argument("--min-time", type=float, help="seconds per repetition (default 0.05, quick 0.01)")
    parser.add_argument("--tolerance", type=float, default=1e-6,
                        help="largest difference to central differences, relative to max(1, |H v|)")
    parser.add_argument("--out", default=os.path.join(HERE, "out", "hvp"), help="work folder (default bench/out/hvp)")
    args = parser.parse_args()
    workloads = args.workloads.split(",") if args.workloads else QUICK if args.quick else WORKLOADS
    unknown = [w for w in workloads if w not in generate.ALL_WORKLOADS]
    if unknown:
        parser.error(f"unknown workload {unknown[0]!r}; one of {', '.join(generate.ALL_WORKLOADS)}")
    args.reps = args.reps or (3 if args.quick else 7)
    args.min_time = args.min_time or (0.01 if args.quick else 0.05)
    args.bpc = os.path.abspath(args.bpc)
    if not os.access(args.bpc, os.X_OK):
        parser.error(f"no bpc at {args.bpc} (build it: ninja -C build bpc, or pass --bpc)")
    work = os.path.abspath(args.out)
    os.makedirs(work, exist_ok=True)
    harness_o = os.path.join(work, "harness.o")
    try:
        run(["gcc", "-O2", "-c", f"-I{ROOT}/runtime", os.path.join(HERE, "harness.c"), "-o", harness_o])
        rows = [measure(name, args, work, harness_o) for name in workloads]
    except RuntimeError as error:
        print(f"FAILED: {error}", file=sys.stderr)
        return 1
    load = os.getloadavg()
    print(f"bp Hessian-vector product against one gradient ({args.reps} repetitions of >= {args.min_time} s, "
          f"median); {datetime.datetime.now():%Y-%m-%d %H:%M}; nproc {os.cpu_count()}; load average {load[0]:.1f}")
    print("| workload | nodes | arguments | bpc build -O2 --emit-fn gradient,hvp | gradient | hvp | hvp / gradient "
          "| max err to central differences |")
    print("|---|---|---|---|---|---|---|---|")
    failed = False
    for r in rows:
        print(f"| {r['name']} | {r['nodes']} | {r['num_in']} | {r['build_s']:.2f} s | {fmt_time(r['gradient_ns'])} "
              f"| {fmt_time(r['hvp_ns'])} | {r['hvp_ns'] / r['gradient_ns']:.2f}x | {r['max_err']:.1e} |")
        if not r["max_err"] <= args.tolerance:
            print(f"FAILED: {r['name']}: H v differs from central differences of the gradient by {r['max_err']:.3g}",
                  file=sys.stderr)
            failed = True
    for r in rows:
        if r["name"] == "mlp-64":
            ratio = r["hvp_ns"] / r["gradient_ns"]
            verdict = "met" if ratio <= GOAL else "NOT met"
            print(f"goal hvp <= {GOAL:g}x one gradient on mlp-64: {ratio:.2f}x, {verdict}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
