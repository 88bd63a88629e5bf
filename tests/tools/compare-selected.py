#!/usr/bin/env python3
"""compare-selected.py BPC SCRIPT HEADER PROGRAM: runs PROGRAM (tests/target/Inputs/selected.c linked against a
`bpc build --name model --of ... --wrt ...` object), which prints the selected gradient, and checks every entry
bit for bit against `bpc run --grad --json` on the same script, finding each chosen output's rows and each
chosen argument's columns by the header's MODEL_GRAD_OUT_<name> / MODEL_GRAD_IN_<name> constants."""
import json
import re
import subprocess
import sys


def flat(value):
    return [x for v in value for x in flat(v)] if isinstance(value, list) else [value]


bpc, script, header, program = sys.argv[1:5]
text = open(header).read()
rows = {m[1]: int(m[2]) for m in re.finditer(r"#define MODEL_GRAD_OUT_(\w+) (\d+)", text)}
columns = {m[1]: int(m[2]) for m in re.finditer(r"#define MODEL_GRAD_IN_(\w+) (\d+)", text)}
width = int(re.search(r"#define MODEL_GRAD_NUM_IN (\d+)", text)[1])
expected = json.loads(subprocess.run([bpc, "run", "--grad", "--json", script], check=True, capture_output=True,
                                     text=True).stdout)
grad = json.loads(subprocess.run([program], check=True, capture_output=True, text=True).stdout)
count = 0
for name, row in rows.items():
    for arg, column in columns.items():
        # d name / d arg, of shape name.shape + arg.shape: a row per element of name.
        want = flat(expected["gradients"][name][arg])
        elements = len(flat(expected["outputs"][name]))
        size = len(want) // elements
        got = [grad[(row + j) * width + column + k] for j in range(elements) for k in range(size)]
        if got != want:
            sys.exit(f"compare: d{name}/d{arg}: object gives {got!r}, bpc run {want!r}")
        count += len(want)
if count != len(grad):
    sys.exit(f"compare: grad holds {len(grad)} numbers, the chosen derivatives {count}")
print(f"same {count} gradient entries as bpc run")
