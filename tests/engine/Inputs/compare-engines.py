#!/usr/bin/env python3
"""compare-engines.py BPC SCRIPT... [-- DATA-CASE...]: runs `bpc run` on each script in every mode (text and
--json; --grad; --of and --wrt; --jvp, --vjp, --hessian and --hvp; -O0; --set; --strict and --trace-nonfinite)
with --engine interpreter and with --engine jit, and checks that both print the same bytes on stdout and stderr
and exit with the same status. A DATA-CASE is SCRIPT:DATA.csv, run with --data (the mean, and --per-row).
Prints how many runs agreed and how many of them succeeded (exit 0); exits 1 at the first that does not
agree."""
import concurrent.futures
import json
import subprocess
import sys

bpc = sys.argv[1]
rest = sys.argv[2:]
scripts = rest[: rest.index("--")] if "--" in rest else rest
data_cases = rest[rest.index("--") + 1:] if "--" in rest else []


def run(args):
    result = subprocess.run([bpc, "run"] + args, capture_output=True, text=True)
    return result.returncode, result.stdout, result.stderr


def ones_like(value):
    """A --vjp seed of the output's shape: 1 in every element (a nested list for a tensor output)."""
    return [ones_like(v) for v in value] if isinstance(value, list) else 1


def modes(script):
    """The argument lists that exercise each run option on `script`, from its outputs and arguments."""
    cases = [[script, "--grad", "--strict", "--trace-nonfinite"], [script, "--grad", "--json"],
             [script, "--json", "-O0", "--no-cache"]]
    status, out, _ = run([script, "--grad", "--json", "--engine", "interpreter"])
    if status:
        return cases
    results = json.loads(out)
    outputs = list(results["outputs"])
    gradients = results.get("gradients", {})
    arguments = list(next(iter(gradients.values()))) if gradients else []
    if not outputs or not arguments:
        return cases
    first, argument = outputs[0], arguments[0]
    cases.append([script, "--of", first, "--wrt", argument, "--set", f"{argument}=0.5", "--json"])
    seed = json.dumps(ones_like(results["outputs"][first]))
    derivatives = [script, "--jvp", f"{argument}=1", "--vjp", f"{first}={seed}"]
    scalars = [name for name, value in results["outputs"].items() if not isinstance(value, list)]
    if scalars:
        derivatives += ["--hessian", scalars[0], "--hvp", scalars[0], f"{argument}=1"]
    cases.append(derivatives)
    return cases


def compare(args):
    interpreted = run(args + ["--engine", "interpreter"])
    compiled = run(args + ["--engine", "jit"])
    return args, interpreted, compiled


cases = [case for script in scripts for case in modes(script)]
for data_case in data_cases:
    script, data = data_case.split(":")
    cases += [[script, "--data", data], [script, "--data", data, "--grad", "--json"],
              [script, "--data", data, "--per-row", "--grad"], [script, "--data", data, "--per-row", "--json"]]

succeeded = 0
with concurrent.futures.ThreadPoolExecutor(2) as pool:
    for args, interpreted, compiled in pool.map(compare, cases):
        succeeded += interpreted[0] == 0
        if interpreted != compiled:
            print(f"compare-engines: bpc run {' '.join(args)}: the engines differ\n"
                  f"interpreter (exit {interpreted[0]}):\n{interpreted[1]}{interpreted[2]}\n"
                  f"jit (exit {compiled[0]}):\n{compiled[1]}{compiled[2]}")
            sys.exit(1)
print(f"same output from both engines in {len(cases)} runs, {succeeded} of them successful")
