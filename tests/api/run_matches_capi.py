"""`bpc run --grad --json` against the C API (bp_capi_gradient, built beside bpc in tests/): the same outputs and
gradient, as doubles, bit for bit.

Usage: run_matches_capi.py BPC SCRIPT.bp|FOLDER [--of OUTPUT]... [--wrt ARGUMENT]...   (a folder: its *.bp)

bp_capi_gradient prints %.17g, bpc's JSON the shortest repr: both read back to the same double exactly when the
numbers agree. JSON writes a number that is not finite as null; the C program's must then not be finite either.
An input without a value is 0 in the C program and given as --set NAME=0 to bpc. A script that does not compile
must fail both ways with the same message. Prints one line per script checked; exits 1 on any difference."""
import json
import math
import os
import struct
import subprocess
import sys


def flatten(value):
    if isinstance(value, list):
        return [element for item in value for element in flatten(item)]
    return [value]


def same(json_value, c_value):
    if json_value is None:
        return not math.isfinite(c_value)
    return struct.pack("<d", json_value) == struct.pack("<d", c_value)


def check(bpc, script, selection):
    capi = os.path.join(os.path.dirname(bpc), "tests", "bp_capi_gradient")
    c = subprocess.run([capi, script] + selection, capture_output=True, text=True)
    options = []
    for i in range(0, len(selection), 2):  # bpc takes a comma-separated list once
        flag = selection[i]
        if flag in options:
            options[options.index(flag) + 1] += "," + selection[i + 1]
        else:
            options += [flag, selection[i + 1]]
    if c.returncode != 0:
        run = subprocess.run([bpc, "run", "--engine", "jit", "--grad", "--json", script] + options, capture_output=True, text=True)
        if run.returncode != 1 or run.stderr != c.stderr:
            sys.exit(f"{script}: the C API failed with\n{c.stderr}"
                     f"but bpc run (exit {run.returncode}) with\n{run.stderr}")
        print(f"{script}: both fail with the same message")
        return

    outputs, gradients, sets = {}, {}, []
    for line in c.stdout.splitlines():
        kind, rest = line.split(" ", 1)
        if kind == "unset":
            sets += ["--set", rest + "=0"]
        elif kind == "output":
            name, *numbers = rest.split(" ")
            outputs[name] = [float(n) for n in numbers]
        else:
            output, argument, *numbers = rest.split(" ")
            gradients.setdefault(output, {})[argument] = [float(n) for n in numbers]
    run = subprocess.run([bpc, "run", "--engine", "jit", "--grad", "--json", script] + sets + options, capture_output=True, text=True)
    if run.returncode != 0:
        sys.exit(f"{script}: bpc run exited {run.returncode}:\n{run.stderr}")
    printed = json.loads(run.stdout, parse_int=float, parse_float=float)  # parse_int keeps -0's sign

    compared = 0
    def compare(what, from_json, from_c):
        nonlocal compared
        values = flatten(from_json)
        if len(values) != len(from_c) or not all(same(j, c) for j, c in zip(values, from_c)):
            sys.exit(f"{script}: {what}: bpc run prints {values}, the C API computes {from_c}")
        compared += len(values)

    if printed["outputs"].keys() != outputs.keys():
        sys.exit(f"{script}: bpc run's outputs {list(printed['outputs'])}, the C API's {list(outputs)}")
    for name, values in outputs.items():
        compare(f"output {name}", printed["outputs"][name], values)
    by_json = {o: sorted(args) for o, args in printed["gradients"].items()}
    by_c = {o: sorted(args) for o, args in gradients.items()}
    if by_json != by_c:
        sys.exit(f"{script}: bpc run's gradients {by_json}, the C API's {by_c}")
    for output, arguments in gradients.items():
        for argument, values in arguments.items():
            compare(f"d{output}/d{argument}", printed["gradients"][output][argument], values)
    print(f"{script}: {compared} numbers equal")


def main():
    bpc, path, selection = sys.argv[1], sys.argv[2], sys.argv[3:]
    scripts = [path]
    if os.path.isdir(path):
        scripts = [os.path.join(path, name) for name in sorted(os.listdir(path)) if name.endswith(".bp")]
    for script in scripts:
        check(bpc, script, selection)


if __name__ == "__main__":
    main()
