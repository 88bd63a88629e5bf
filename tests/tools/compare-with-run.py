#!/usr/bin/env python3
"""compare-with-run.py BPC SCRIPT HEADER HARNESS: runs a harness program linked against a `bpc build --name
model` object with the default values listed in the header's comment, runs `bpc run --grad --json` on the same
script, and checks that every output and gradient entry is bit-for-bit the same. Uses the header's
MODEL_IN_<name> / MODEL_OUT_<name> constants to match names to array positions."""
import json
import re
import subprocess
import sys

bpc, script, header, harness = sys.argv[1:5]
text = open(header).read()
inputs = {m[1]: int(m[2]) for m in re.finditer(r"#define MODEL_IN_(\w+) (\d+)", text)}
outputs = {m[1]: int(m[2]) for m in re.finditer(r"#define MODEL_OUT_(\w+) (\d+)", text)}
defaults = {int(m[1]): m[2] for m in re.finditer(r"\*   in\[(\d+)\]  (?:input|param) \w+ = (\S+)", text)}
if sorted(defaults) != list(range(len(inputs))):
    sys.exit(f"compare: the header's comment does not give a default for every input: {defaults}")

expected = json.loads(subprocess.run([bpc, "run", "--grad", "--json", script], check=True,
                                     capture_output=True, text=True).stdout)
actual = json.loads(subprocess.run([harness] + [defaults[i] for i in range(len(inputs))], check=True,
                                   capture_output=True, text=True).stdout)
count = 0
for name, o in outputs.items():
    for key in ("outputs", "forward"):
        if actual[key][o] != expected["outputs"][name]:
            sys.exit(f"compare: {key} {name}: object gives {actual[key][o]!r}, bpc run {expected['outputs'][name]!r}")
    for arg, i in inputs.items():
        got, want = actual["grad"][o * len(inputs) + i], expected["gradients"][name][arg]
        if got != want:
            sys.exit(f"compare: d{name}/d{arg}: object gives {got!r}, bpc run {want!r}")
        count += 1
print(f"same outputs and {count} gradient entries as bpc run")
