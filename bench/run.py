#!/usr/bin/env python3
"""The bp benchmark suite: one command, one table of ratios against a C baseline measured in the same run.

    python3 bench/run.py [--bpc PATH] [--quick] [--out DIR] [--workloads LIST] [--columns LIST] ...

For every workload (bench/generate.py) and column it measures the compile (wall time and peak RSS), the median
per-call time of forward and of gradient (bench/harness.c), and checks the outputs and gradient against the C
column. Columns:
  C        gcc -O2 of the generated straight-line C (compile: `gcc -O2 -c W.c`)
  bp-obj   `bpc build -O2` object (compile: the whole bpc process, script to object + header)
  bp-jit   bp library JIT, bench/jit_column.cpp (compile: in process, reading the script to callable code)
  adolc    ADOL-C tape, bench/adolc_column.cpp (compile: in process, reading the op list and taping it)
Exit status: 0, or 1 when some column's outputs or gradient differ from the C column by more than 1e-9 relative
(or a column failed), 2 for usage errors.
"""
import argparse
import datetime
import json
import os
import platform
import statistics
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path.insert(0, HERE)
import generate  # noqa: E402

QUICK = ["nested", "mlp-4", "mlp-16", "dag-1000"]
COLUMNS = ["C", "bp-obj", "bp-jit", "adolc"]
TOLERANCE = 1e-9


def log(message):
    print(message, file=sys.stderr, flush=True)


def measured(cmd, cwd=None, timeout=None):
    """Runs cmd; returns (wall seconds, peak RSS in MiB of it and its descendants, exit status, stdout, stderr)."""
    out_path = os.path.join(cwd or ".", ".stdout")
    err_path = os.path.join(cwd or ".", ".stderr")
    with open(out_path, "w") as out, open(err_path, "w") as err:
        start = time.perf_counter()
        proc = subprocess.Popen(cmd, cwd=cwd, stdout=out, stderr=err)
        deadline = None if timeout is None else start + timeout
        while True:
            pid, status, usage = os.wait4(proc.pid, os.WNOHANG if deadline else 0)
            if pid:
                break
            if time.perf_counter() > deadline:
                proc.kill()
                pid, status, usage = os.wait4(proc.pid, 0)
                status = -1
                break
            time.sleep(0.02)
        wall = time.perf_counter() - start
        proc.returncode = os.waitstatus_to_exitcode(status) if status != -1 else -9
    with open(out_path) as f:
        stdout = f.read()
    with open(err_path) as f:
        stderr = f.read()
    return wall, usage.ru_maxrss / 1024.0, proc.returncode, stdout, stderr


def check(cmd, cwd=None, what=None):
    result = subprocess.run(cmd, cwd=cwd, capture_output=True, text=True)
    if result.returncode:
        raise RuntimeError(f"{what or cmd[0]} failed ({result.returncode}): {' '.join(cmd)}\n"
                           f"{result.stdout[-2000:]}{result.stderr[-2000:]}")
    return result


def parse_harness(text):
    r = {"out": {}, "grad": {}}
    for line in text.splitlines():
        f = line.split()
        if not f:
            continue
        if f[0] in ("forward_ns", "gradient_ns", "compile_s"):
            r[f[0]] = float(f[1])
        elif f[0] in ("forward_all", "gradient_all"):
            r[f[0]] = [float(x) for x in f[1:]]
        elif f[0] == "out":
            r["out"][int(f[1])] = float.fromhex(f[3])
        elif f[0] == "grad":
            r["grad"][(int(f[1]), int(f[2]))] = float.fromhex(f[4])
    if "forward_ns" not in r or "gradient_ns" not in r:
        raise RuntimeError("no timing in the benchmark's output:\n" + text[-2000:])
    return r


def compare(ref, got):
    """(max relative error over outputs and gradient entries, number of entries, number bit-identical)."""
    worst, same, count = 0.0, 0, 0
    for key in ("out", "grad"):
        if set(ref[key]) != set(got[key]):
            return float("inf"), 0, 0
        for k, a in ref[key].items():
            b = got[key][k]
            count += 1
            if a.hex() == b.hex():
                same += 1
                continue
            if a != a or b != b:          # NaN on either side
                worst = float("inf")
                continue
            scale = max(abs(a), abs(b))
            worst = max(worst, abs(a - b) / scale if scale else 0.0)
    return worst, count, same


# ---------------------------------------------------------------------------------------------------------
# Building the column programs


def newer(target, *sources):
    return os.path.exists(target) and all(os.path.getmtime(target) >= os.path.getmtime(s) for s in sources)


def build_jit(args, tools):
    """The bp_bench_jit program, built in the main build (the top-level CMakeLists.txt includes bench/)."""
    if args.jit:
        return args.jit
    if not os.path.exists(os.path.join(args.build, "build.ninja")):
        raise RuntimeError(f"no build at {args.build}: configure and build bp first (README.md)")
    log(f"building bp_bench_jit in {args.build}")
    check(["cmake", "--build", args.build, "--target", "bp_bench_jit"], what="build bp_bench_jit")
    return os.path.join(args.build, "bench", "bp_bench_jit")


def build_adolc(tools):
    if not os.path.exists("/usr/include/adolc/adolc.h"):
        raise RuntimeError("ADOL-C is not installed (apt-get install -y libadolc-dev)")
    exe = os.path.join(tools, "bp_bench_adolc")
    sources = [os.path.join(HERE, f) for f in ("adolc_column.cpp", "harness.c", "harness.h")]
    if not newer(exe, *sources):
        log("building bp_bench_adolc")
        harness_o = os.path.join(tools, "harness-adolc.o")
        check(["gcc", "-O2", "-c", f"-I{ROOT}/runtime", sources[1], "-o", harness_o], what="gcc harness.c")
        check(["g++", "-O2", "-std=c++17", f"-I{HERE}", f"-I{ROOT}/runtime", sources[0], harness_o,
               "-ladolc", "-o", exe], what="g++ adolc_column.cpp")
    return exe


def link_native(work, meta, obj, exe):
    """harness.c with a main() for meta's prefix, linked with the object under test."""
    check(["gcc", "-O2", f"-I{ROOT}/runtime", f"-DBENCH_PREFIX={meta['prefix']}", f"-DBENCH_NUM_IN={meta['num_in']}",
           f"-DBENCH_NUM_OUT={meta['num_out']}", os.path.join(HERE, "harness.c"), obj, "-lm", "-o", exe],
          cwd=work, what="linking the harness")


# ---------------------------------------------------------------------------------------------------------
# Running one column on one workload


def prepare_column(column, name, meta, args, work, tools):
    """Compiles what must be compiled ahead of time; returns {'cmd': the timing command, ...} or {'skipped'}."""
    timing = ["--reps", str(args.reps), "--min-time", str(args.min_time)]
    base = os.path.join(work, name)
    if column == "C":
        if args.skip_gcc_above and meta["nodes"] > args.skip_gcc_above:
            return {"skipped": f"gcc skipped (> {args.skip_gcc_above} nodes, --skip-gcc-above)"}
        wall, rss, rc, so, se = measured(["gcc"] + args.cflags.split() + ["-c", f"{name}.c", "-o", f"{name}.c.o"],
                                         cwd=work)
        if rc:
            raise RuntimeError(f"gcc {args.cflags} {name}.c failed:\n{se[-2000:]}")
        link_native(work, meta, f"{name}.c.o", f"{name}.c.bench")
        return {"compile_s": wall, "peak_mb": rss, "cmd": [f"{base}.c.bench", f"{name}.in"] + timing}
    if column == "bp-obj":
        wall, rss, rc, so, se = measured([args.bpc, "build", f"{name}.bp", "--name", meta["prefix"], "-o",
                                          f"{name}.bp.o", "--header", f"{name}.bp.h", "-O2"], cwd=work)
        if rc:
            raise RuntimeError(f"bpc build {name}.bp failed ({rc}):\n{se[-2000:]}")
        header = open(f"{base}.bp.h").read()
        macro = meta["prefix"].upper()
        if f"#define {macro}_NUM_IN {meta['num_in']}" not in header:
            raise RuntimeError(f"{name}.bp.h does not say {macro}_NUM_IN {meta['num_in']}")
        link_native(work, meta, f"{name}.bp.o", f"{name}.bp.bench")
        return {"compile_s": wall, "peak_mb": rss, "cmd": [f"{base}.bp.bench", f"{name}.in"] + timing}
    if column == "bp-jit":  # compiles in process, in every round
        return {"cmd": [tools["bp-jit"], f"{name}.bp", f"{name}.in"] + timing}
    return {"cmd": [tools["adolc"], f"{name}.ops", f"{name}.in"] + timing}


def time_column(column, name, state, work):
    """One round: runs the column's timing program and folds its figures into `state`."""
    _, rss, rc, so, se = measured(state["cmd"], cwd=work)
    if rc:
        raise RuntimeError(f"the {column} benchmark of {name} failed ({rc}):\n{se[-2000:]}")
    r = parse_harness(so)
    if column in ("bp-jit", "adolc"):   # in-process compile: its time, and the whole process's peak
        state.setdefault("compiles", []).append(r["compile_s"])
        state["peak_mb"] = max(state.get("peak_mb", 0), rss)
    for key in ("forward_all", "gradient_all"):
        state.setdefault(key, []).extend(r[key])
    for key in ("out", "grad"):
        if key in state and state[key] != r[key]:
            raise RuntimeError(f"the {column} benchmark of {name} gave different values in two rounds")
        state[key] = r[key]


def finish_column(state):
    if "compiles" in state:
        state["compile_s"] = statistics.median(state["compiles"])
    state["forward_ns"] = statistics.median(state["forward_all"])
    state["gradient_ns"] = statistics.median(state["gradient_all"])
    return state


# ---------------------------------------------------------------------------------------------------------
# The table


def fmt_time_ns(ns):
    if ns >= 1e6:
        return f"{ns / 1e6:.3g} ms"
    if ns >= 1e3:
        return f"{ns / 1e3:.3g} us"
    return f"{ns:.3g} ns"


def fmt_ratio(value, ref):
    if value is None or ref is None or not ref:
        return "-"
    r = value / ref
    return f"{r:.3g}x" if r < 100 else f"{r:.0f}x"


def table(results, metas, workloads, columns, reference):
    head = ["workload", "nodes", "column", "compile", "xC", "peak MB", "xC", "forward", "xC", "gradient", "xC",
            "grad/fwd", "max rel err", "bit-equal"]
    rows = []
    for name in workloads:
        ref = results[name].get(reference.get(name))
        for column in columns:
            r = results[name].get(column)
            if r is None:
                continue
            if "skipped" in r or "error" in r:
                rows.append([name, str(metas[name]["nodes"]), column, r.get("skipped") or "FAILED: " + r["error"]
                             .splitlines()[0][:60]] + [""] * (len(head) - 4))
                continue
            ok = ref and "forward_ns" in ref
            err = r.get("max_rel_err")
            rows.append([
                name, str(metas[name]["nodes"]), column,
                f"{r['compile_s']:.3g} s", fmt_ratio(r["compile_s"], ok and ref["compile_s"]),
                f"{r['peak_mb']:.0f}", fmt_ratio(r["peak_mb"], ok and ref["peak_mb"]),
                fmt_time_ns(r["forward_ns"]), fmt_ratio(r["forward_ns"], ok and ref["forward_ns"]),
                fmt_time_ns(r["gradient_ns"]), fmt_ratio(r["gradient_ns"], ok and ref["gradient_ns"]),
                f"{r['gradient_ns'] / r['forward_ns']:.2f}",
                "ref" if column == reference.get(name) else ("-" if err is None else f"{err:.1e}"),
                "ref" if column == reference.get(name) else f"{r['same']}/{r['entries']}",
            ])
    widths = [max(len(head[i]), *(len(row[i]) for row in rows)) if rows else len(head[i]) for i in range(len(head))]
    lines = ["| " + " | ".join(h.ljust(w) for h, w in zip(head, widths)) + " |",
             "|" + "|".join("-" * (w + 2) for w in widths) + "|"]
    for row in rows:
        lines.append("| " + " | ".join(c.ljust(w) for c, w in zip(row, widths)) + " |")
    return "\n".join(lines)


def machine():
    model = "?"
    try:
        for line in open("/proc/cpuinfo"):
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    load = os.getloadavg()
    return (f"{datetime.datetime.now().strftime('%Y-%m-%d %H:%M')}; {platform.node()}; nproc {os.cpu_count()}; "
            f"CPU {model}; load average {load[0]:.1f} {load[1]:.1f} {load[2]:.1f}")


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--bpc", default=os.path.join(ROOT, "build", "bpc"), help="the bpc binary (default build/bpc)")
    parser.add_argument("--build", default=os.path.join(ROOT, "build"), help="bp build folder (for the JIT column)")
    parser.add_argument("--jit", help="a prebuilt bp_bench_jit (default: build it)")
    parser.add_argument("--quick", action="store_true", help=f"only {', '.join(QUICK)}, few repetitions")
    parser.add_argument("--out", default=os.path.join(HERE, "out"), help="work folder (default bench/out)")
    parser.add_argument("--workloads", help="comma-separated, from: " + ", ".join(generate.ALL_WORKLOADS))
    parser.add_argument("--columns", default=",".join(COLUMNS), help="comma-separated, from: " + ", ".join(COLUMNS))
    parser.add_argument("--reps", type=int, help="timed repetitions per function (median; default 7, quick 3)")
    parser.add_argument("--rounds", type=int, help="timing runs per column, interleaved with the other columns; "
                        "the medians are over all their repetitions (default 3, quick 1)")
    parser.add_argument("--min-time", type=float, help="seconds per repetition (default 0.05, quick 0.01)")
    parser.add_argument("--cflags", default="-O2", help="gcc flags of the C column (default -O2)")
    parser.add_argument("--skip-gcc-above", type=int, default=0,
                        help="skip the gcc compile (C column) of workloads with more nodes (default: never)")
    args = parser.parse_args()
    workloads = args.workloads.split(",") if args.workloads else (QUICK if args.quick else generate.ALL_WORKLOADS)
    columns = args.columns.split(",")
    for w in workloads:
        if w not in generate.ALL_WORKLOADS:
            parser.error(f"unknown workload {w}")
    for c in columns:
        if c not in COLUMNS:
            parser.error(f"unknown column {c}")
    args.reps = args.reps or (3 if args.quick else 7)
    args.rounds = max(1, args.rounds or (1 if args.quick else 3))
    args.min_time = args.min_time or (0.01 if args.quick else 0.05)
    if "bp-obj" in columns and not os.access(args.bpc, os.X_OK):
        parser.error(f"no bpc at {args.bpc} (build it: ninja -C build bpc, or pass --bpc)")
    args.bpc = os.path.abspath(args.bpc)
    work = os.path.abspath(args.out)
    tools = os.path.join(work, "tools")
    os.makedirs(tools, exist_ok=True)
    started = time.perf_counter()

    tool_paths, broken = {}, {}
    for column, builder in (("bp-jit", lambda: build_jit(args, tools)), ("adolc", lambda: build_adolc(tools))):
        if column in columns:
            try:
                tool_paths[column] = os.path.abspath(builder())
            except Exception as e:  # noqa: BLE001 - reported in the table
                broken[column] = str(e)
                log(f"{column}: {e}")

    metas, results, reference = {}, {}, {}
    failed = False
    for name in workloads:
        metas[name] = generate.generate(name, work)
        results[name] = {}
        states = {}
        for column in columns:
            log(f"{name}: {column}: compile")
            try:
                if column in broken:
                    raise RuntimeError(broken[column])
                states[column] = prepare_column(column, name, metas[name], args, work, tool_paths)
                if "skipped" in states[column]:
                    results[name][column] = states.pop(column)
            except Exception as e:  # noqa: BLE001 - reported in the table
                results[name][column] = {"error": str(e)}
                log(f"{name}: {column}: {e}")
                failed = True
        # timing rounds; each round runs the columns in a rotated order, so no column always runs first
        for round_ in range(args.rounds):
            order = list(states)
            order = order[round_ % len(order):] + order[:round_ % len(order)] if order else order
            for column in order:
                if column in results[name]:
                    continue
                log(f"{name}: {column}: timing, round {round_ + 1}/{args.rounds}")
                try:
                    time_column(column, name, states[column], work)
                except Exception as e:  # noqa: BLE001 - reported in the table
                    results[name][column] = {"error": str(e)}
                    log(f"{name}: {column}: {e}")
                    failed = True
        for column in states:
            if column not in results[name]:
                results[name][column] = finish_column(states[column])
        # the reference: the C column, or (when it was skipped) the first column that ran
        ran = [c for c in columns if "forward_ns" in results[name][c]]
        reference[name] = "C" if "C" in ran else (ran[0] if ran else None)
        for column in ran:
            if column != reference[name]:
                r = results[name][column]
                r["max_rel_err"], r["entries"], r["same"] = compare(results[name][reference[name]], r)
                if not r["max_rel_err"] <= TOLERANCE:
                    failed = True

    print(f"bp benchmark ({'quick' if args.quick else 'full'} run: {args.rounds} round(s) x {args.reps} repetitions "
          f"of >= {args.min_time} s, median; C column: gcc {args.cflags}); {machine()}")
    print(f"bpc: {args.bpc} ({datetime.datetime.fromtimestamp(os.path.getmtime(args.bpc)):%Y-%m-%d %H:%M})"
          if os.path.exists(args.bpc) else "")
    print(table(results, metas, workloads, columns, reference))
    notes = []
    for name in workloads:
        if reference[name] not in (None, "C"):
            notes.append(f"{name}: no C column; ratios and errors are against {reference[name]}")
        if metas[name]["split"]:
            notes.append(f"{name}: the C is split into functions of {generate.CHUNK} statements")
    print(f"compile: C = gcc {args.cflags} -c; bp-obj = bpc build -O2 (whole process); bp-jit = script to callable code, in "
          "process; adolc = op list to tape, in process. peak MB: max RSS of that compile process (bp-jit, adolc: "
          "of the whole benchmark process). xC: ratio to the C column. bit-equal: outputs + gradient entries "
          "identical to the C column's bits.")
    for note in notes:
        print("note: " + note)
    print(f"total {time.perf_counter() - started:.0f} s; {'FAILED: a column disagrees or failed' if failed else 'all columns agree within 1e-9'}")
    with open(os.path.join(work, "results.json"), "w") as f:
        json.dump({"machine": machine(), "workloads": metas, "results": {
            n: {c: {k: v for k, v in r.items() if k not in ("out", "grad")} for c, r in cols.items()}
            for n, cols in results.items()}}, f, indent=1)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
