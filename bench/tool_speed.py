#!/usr/bin/env python3
"""The speed of bpc itself, in one table from one run: start-up, the compile cache, `bpc build` of large scripts,
and compile time against tensor sizes.

    python3 bench/tool_speed.py [--bpc PATH] [--out DIR] [--quick] [--runs N]

Every row times whole bpc processes: wall time (best and median of its runs) and peak RSS (os.wait4's
ru_maxrss). The rows' runs are interleaved, round after round, so that a busy spell of this noisy machine falls
on every row alike, and the ratios (cache hit / miss, per-node times, tensor sizes) are of times from the same
run. Each row shows its goal and whether the best run met it; the goals are reported, never checked.
  start-up  bpc --version; check, run --grad, explain, graph of examples/nested.bp (warm compile cache)
  cache     bpc run --grad of mlp-64 (-O2) and of mlp-2-32-32-1 (-O1; -O0 with --quick): miss (an empty cache
            each run) and hit, and hit / miss
  compile   bpc build -O2 of dag-1000, dag-10000, dag-100000 (not with --quick): time, peak MB, time per node,
            at -j 1 and -j NPROC where bpc build has -j
  tensor    bpc build -O2 of an n x n product (bench/tensor_compile_time.py's script) at n = 4 and 256
The compile cache is a private one under --out (BP_CACHE_DIR), never the user's.
Exit status: 0, or 1 when a command fails or prints what it should not (nested.bp's f = -7 and its gradient, a
warning-free `bpc check`, the same output from a cache miss and a hit), 2 for usage errors.
"""
import argparse
import datetime
import json
import os
import re
import shutil
import statistics
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path.insert(0, HERE)
import run as suite  # noqa: E402
import tensor_compile_time  # noqa: E402

NESTED = os.path.join(ROOT, "examples", "nested.bp")
NESTED_GRAD = "f = -7\ndf/da = 7\ndf/db = 7\ndf/dc = -1\n"
DEEP_MLP = "mlp-2-32-32-1"


class Row:
    """One command, timed `runs` times. `env` is added to the environment of every run; a BP_CACHE_DIR there is
    filled by an untimed run first. `fresh_cache` runs it with a new, empty BP_CACHE_DIR (named after it) each
    time. `expect(stdout, stderr)` says what is wrong with a run's output, or None; `same_as`: a row whose runs
    must print the same."""

    def __init__(self, group, label, cmd, runs, goal_s=None, goal_mb=None, env=None, fresh_cache=None,
                 expect=None, nodes=None, same_as=None):
        self.group, self.label, self.cmd, self.runs = group, label, cmd, runs
        self.goal_s, self.goal_mb, self.nodes = goal_s, goal_mb, nodes
        self.env, self.fresh_cache, self.expect, self.same_as = env or {}, fresh_cache, expect, same_as
        self.times, self.peaks, self.stdouts, self.errors = [], [], set(), []

    def best(self):
        return min(self.times) if self.times else None

    def median(self):
        return statistics.median(self.times) if self.times else None


class Ratio:
    """best(top) / best(bottom) * scale, and the same of the medians."""

    def __init__(self, group, label, top, bottom, scale=1.0, goal=None):
        self.group, self.label, self.top, self.bottom, self.scale, self.goal = group, label, top, bottom, scale, goal

    def values(self):
        if not (self.top.times and self.bottom.times):
            return None, None
        return (self.top.best() / self.bottom.best() * self.scale,
                self.top.median() / self.bottom.median() * self.scale)


def label(cmd, work):
    """A command as the table shows it: bpc, files under --out by their name, others under the source tree
    relative to it."""
    def shown(arg):
        if not os.path.isabs(arg):
            return arg
        if arg.startswith(ROOT + os.sep) and not arg.startswith(work + os.sep):
            return os.path.relpath(arg, ROOT)
        return os.path.basename(arg)
    return " ".join(["bpc"] + [shown(arg) for arg in cmd[1:]])


def timed(row, work, cache_root):
    env = dict(row.env)
    if row.fresh_cache:
        env["BP_CACHE_DIR"] = os.path.join(cache_root, f"{row.fresh_cache}-{len(row.times)}")
        shutil.rmtree(env["BP_CACHE_DIR"], ignore_errors=True)
    saved = {k: os.environ.get(k) for k in env}
    os.environ.update(env)
    try:
        wall, peak, rc, stdout, stderr = suite.measured(row.cmd, cwd=work)
    finally:
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k)
            else:
                os.environ[k] = v
    if rc:
        row.errors.append(f"exit status {rc}: {stderr.strip()[-500:]}")
        return
    problem = row.expect(stdout, stderr) if row.expect else None
    if problem:
        row.errors.append(problem)
        return
    row.times.append(wall)
    row.peaks.append(peak)
    row.stdouts.add(stdout)


# ---------------------------------------------------------------------------------------------------------
# What a run must print


def exactly(text):
    return lambda out, err: None if out == text else f"printed {out[:200]!r}, not {text[:200]!r}"


def some_output(out, err):
    return None if out.strip() else "printed nothing"


def quiet(out, err):
    return None if not out.strip() and not err.strip() else f"printed {(out + err)[:300]!r} (warnings?)"


def cache(event):
    """A run with BP_CACHE_DEBUG=1 whose compiles were all cache `event`s (hit, or miss then stored)."""
    def check(out, err):
        events = re.findall(r"^bp-cache: (\w+)", err, re.M)
        wanted = {"hit"} if event == "hit" else {"miss", "stored"}
        if not out.strip() or set(events) != wanted:
            return f"expected a cache {event}, BP_CACHE_DEBUG said {events or 'nothing'}"
        return None
    return check


def built(path):
    def check(out, err):
        return None if os.path.getsize(path) > 0 and not err.strip() else f"no object or a message: {err[:300]!r}"
    return check


# ---------------------------------------------------------------------------------------------------------
# The rows


def help_text(bpc, command):
    return subprocess.run([bpc, command, "--help"], capture_output=True, text=True).stdout


def plan(args, work, metas):
    """The rows and the ratios between them, and notes for under the table."""
    runs = (lambda full, quick: quick) if args.quick else (lambda full, quick: args.runs or full)
    bpc = args.bpc
    rows, ratios, notes = [], [], []

    def add(group, cmd, count, **kwargs):
        rows.append(Row(group, kwargs.pop("label", None) or label(cmd, work), cmd, count, **kwargs))
        return rows[-1]

    # start-up, with a warm compile cache (what a second `bpc run` of a script sees)
    warm = {"BP_CACHE_DIR": os.path.join(work, "cache", "warm")}
    add("start-up", [bpc, "--version"], runs(15, 3), env=warm,
        expect=lambda out, err: None if out.startswith("bpc ") else f"printed {out[:100]!r}")
    add("start-up", [bpc, "check", NESTED], runs(15, 3), env=warm, expect=quiet)
    add("start-up", [bpc, "run", NESTED, "--grad"], runs(15, 3), goal_s=0.030, env=warm, expect=exactly(NESTED_GRAD))
    add("start-up", [bpc, "explain", NESTED], runs(15, 3), env=warm, expect=some_output)
    add("start-up", [bpc, "graph", NESTED], runs(15, 3), env=warm, expect=some_output)
    add("start-up", [bpc, "check", os.path.join(work, f"{DEEP_MLP}.bp")], runs(10, 2), env=warm, expect=quiet)

    # the compile cache: a miss (an empty cache every run) and a hit, by the JIT
    engine = ["--engine", "jit"] if "--engine" in help_text(bpc, "run") else []
    if not engine:
        notes.append("bpc run has no --engine: the cache rows run its one engine, the JIT")
    debug = {"BP_CACHE_DEBUG": "1"}
    for name, opt, miss_runs, miss_goal, hit_goal in (
            ("mlp-64", "-O2", runs(5, 1), None, 0.030),
            (DEEP_MLP, "-O0" if args.quick else "-O1", runs(3, 1), None if args.quick else 0.5, None)):
        cmd = [bpc, "run", os.path.join(work, f"{name}.bp"), "--grad", opt] + engine
        filled = {"BP_CACHE_DIR": os.path.join(work, "cache", name), **debug}
        miss = add("cache", cmd, miss_runs, goal_s=miss_goal, env=debug, fresh_cache=name, expect=cache("miss"),
                   label=label(cmd, work) + ": miss")
        hit = add("cache", cmd, runs(15, 3), goal_s=hit_goal, env=filled, expect=cache("hit"), same_as=miss,
                  label=label(cmd, work) + ": hit")
        ratios.append(Ratio("cache", f"{name} {opt}: hit / miss", hit, miss))
        if engine:
            default = add("cache", cmd[:-len(engine)], runs(15, 3), env=filled, same_as=hit,
                          label=label(cmd[:-len(engine)], work) + ": default engine, warm cache")
            ratios.append(Ratio("cache", f"{name} {opt}: default engine / jit hit", default, hit))

    # bpc build of large scripts, at -j 1 and -j NPROC where bpc build has -j
    has_jobs = re.search(r"^\s*-j\b", help_text(bpc, "build"), re.M)
    jobs = [["-j", "1"], ["-j", str(os.cpu_count())]] if has_jobs else [[]]
    if not has_jobs:
        notes.append("bpc build has no -j: the compile rows run its default")
    sizes = [("dag-1000", runs(5, 1), None)]
    if not args.quick:
        sizes += [("dag-10000", runs(3, 1), 1.5), ("dag-100000", runs(1, 1), 12.0)]
    build = {}
    for j in jobs:
        for name, count, goal in sizes:
            obj = os.path.join(work, f"{name}{''.join(j)}.o")
            cmd = [bpc, "build", os.path.join(work, f"{name}.bp"), "-O2", "-o", obj] + j
            build[name, tuple(j)] = add("compile", cmd, count, goal_s=goal, goal_mb=1024, expect=built(obj),
                                        nodes=metas[name]["nodes"], label=label(cmd[:4] + j, work))
        if not args.quick:
            small, large = build["dag-10000", tuple(j)], build["dag-100000", tuple(j)]
            ratios.append(Ratio("compile", " ".join(["time per node, dag-100000 / dag-10000"] + j), large, small,
                                scale=small.nodes / large.nodes, goal=1.5))
    if has_jobs:
        for name, _, _ in sizes:
            ratios.append(Ratio("compile", f"{name}: -j {os.cpu_count()} / -j 1", build[name, tuple(jobs[1])],
                                build[name, tuple(jobs[0])]))

    # compile time against tensor sizes
    tensor = {}
    for n in (4, 256):
        path = os.path.join(work, f"matmul-{n}.bp")
        with open(path, "w") as f:
            f.write(tensor_compile_time.SCRIPT.format(n=n))
        obj = os.path.join(work, f"matmul-{n}.o")
        tensor[n] = add("tensor", [bpc, "build", path, "-O2", "-o", obj], runs(5, 1), goal_s=1.0 if n == 256 else None,
                        expect=built(obj), label=f"bpc build -O2 of the {n} x {n} product")
    ratios.append(Ratio("tensor", "256 x 256 / 4 x 4", tensor[256], tensor[4], goal=1.5))
    return rows, ratios, notes


# ---------------------------------------------------------------------------------------------------------
# The table


def fmt_s(seconds):
    if seconds is None:
        return "-"
    return f"{seconds * 1e3:.3g} ms" if seconds < 1 else f"{seconds:.3g} s"


def row_cells(row):
    if row.errors:
        return [row.group, row.label, str(len(row.times)), "-", "-", "-", "-", "-", "FAILED: " + row.errors[0][:80]]
    best = row.best()
    goals = []
    met = True
    if row.goal_s is not None:
        goals.append(f"< {fmt_s(row.goal_s)}")
        met = met and best < row.goal_s
    if row.goal_mb is not None:
        goals.append(f"< {row.goal_mb} MB")
        met = met and max(row.peaks) < row.goal_mb
    per_node = f"{best / row.nodes * 1e3:.3g} ms/node" if row.nodes else "-"
    return [row.group, row.label, str(len(row.times)), fmt_s(best), fmt_s(row.median()), f"{max(row.peaks):.0f}",
            per_node, ", ".join(goals) or "-", ("met" if met else "missed") if goals else "-"]


def ratio_cells(ratio):
    best, median = ratio.values()
    if best is None:
        return [ratio.group, ratio.label, "-", "-", "-", "-", "-", "-", "-"]
    goal = f"< {ratio.goal}x" if ratio.goal else "-"
    result = ("met" if best < ratio.goal else "missed") if ratio.goal else "-"
    return [ratio.group, ratio.label, "-", f"{best:.3g}x", f"{median:.3g}x", "-", "-", goal, result]


def table(rows, ratios):
    head = ["group", "what", "runs", "best", "median", "peak MB", "per node", "goal", "result"]
    body = []
    for group in dict.fromkeys(r.group for r in rows):
        body += [row_cells(r) for r in rows if r.group == group]
        body += [ratio_cells(r) for r in ratios if r.group == group]
    widths = [max(len(head[i]), *(len(cells[i]) for cells in body)) for i in range(len(head))]
    lines = ["| " + " | ".join(h.ljust(w) for h, w in zip(head, widths)) + " |",
             "|" + "|".join("-" * (w + 2) for w in widths) + "|"]
    lines += ["| " + " | ".join(c.ljust(w) for c, w in zip(cells, widths)) + " |" for cells in body]
    return "\n".join(lines)


# ---------------------------------------------------------------------------------------------------------


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--bpc", default=os.path.join(ROOT, "build", "bpc"), help="the bpc binary (default build/bpc)")
    parser.add_argument("--quick", action="store_true",
                        help="few runs, no dag-10000 or dag-100000, mlp-2-32-32-1 at -O0 (a check that all runs)")
    parser.add_argument("--out", default=os.path.join(HERE, "out"), help="work folder (default bench/out)")
    parser.add_argument("--runs", type=int, help="runs of every row (default: 15 for the fast ones, down to 1 for "
                        "dag-100000)")
    args = parser.parse_args()
    if not os.access(args.bpc, os.X_OK):
        parser.error(f"no bpc at {args.bpc} (build it: ninja -C build bpc, or pass --bpc)")
    if args.runs is not None and args.runs < 1:
        parser.error("--runs must be at least 1")
    args.bpc = os.path.abspath(args.bpc)
    work = os.path.abspath(args.out)
    cache_root = os.path.join(work, "cache")
    shutil.rmtree(cache_root, ignore_errors=True)
    os.makedirs(cache_root)
    os.environ["BP_CACHE_DIR"] = os.path.join(cache_root, "other")   # rows that name none: never the user's
    os.environ.pop("BP_CACHE_DEBUG", None)
    started = time.perf_counter()
    load = os.getloadavg()

    # generated by another process: a child's ru_maxrss starts from its parent's high-water mark (Linux keeps it
    # across fork and exec), so this process must stay small
    workloads = ["mlp-64", DEEP_MLP, "dag-1000"] + ([] if args.quick else ["dag-10000", "dag-100000"])
    suite.log(f"generating {', '.join(workloads)}")
    generated = suite.check([sys.executable, os.path.join(HERE, "generate.py"), work] + workloads, what="generate.py")
    metas = {meta["name"]: meta for meta in map(json.loads, generated.stdout.splitlines())}
    rows, ratios, notes = plan(args, work, metas)

    # untimed: load bpc's libraries into the page cache, and fill the caches the hit rows read
    subprocess.run([args.bpc, "--version"], capture_output=True)
    for row in rows:
        if "BP_CACHE_DIR" in row.env:
            subprocess.run(row.cmd, capture_output=True, env={**os.environ, **row.env}, cwd=work)

    # interleaved rounds: every row that still has runs to do, once per round, the order rotated each round
    rounds = max(r.runs for r in rows)
    for k in range(rounds):
        order = rows[k % len(rows):] + rows[:k % len(rows)]
        for row in order:
            if len(row.times) + len(row.errors) < row.runs and not row.errors:
                suite.log(f"round {k + 1}/{rounds}: {row.label}")
                timed(row, work, cache_root)

    failed = [f"{r.label}: {r.errors[0]}" for r in rows if r.errors]
    for row in rows:
        if not row.errors and len(row.stdouts) > 1:
            failed.append(f"{row.label}: printed different output in two runs")
        other = row.same_as
        if other and not row.errors and not other.errors and row.stdouts != other.stdouts:
            failed.append(f"{row.label}: printed other numbers than {other.label}")

    print(f"bp tool speed ({'quick' if args.quick else 'full'} run: whole bpc processes, wall time, best and median "
          f"of the runs, interleaved); {suite.machine()} (at the start {load[0]:.1f} {load[1]:.1f} {load[2]:.1f})")
    print(f"bpc: {args.bpc} ({datetime.datetime.fromtimestamp(os.path.getmtime(args.bpc)):%Y-%m-%d %H:%M})")
    print(table(rows, ratios))
    print("peak MB: the largest max RSS of the row's runs (os.wait4). result: the goal against the best run (time) "
          "and the largest peak; ratios are of the best times (and of the medians).")
    for note in notes:
        print("note: " + note)
    for failure in failed:
        print("FAILED: " + failure)
    print(f"total {time.perf_counter() - started:.0f} s; "
          f"{'FAILED' if failed else 'every command ran and printed what it should'}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
