#!/usr/bin/env python3
"""compare-train-step.py BPC HEADER HARNESS NUMBERS STEPS BATCH -- TRAIN-ARGS...: runs a harness program
(tests/train/Inputs/train-step.c) linked against a `bpc build --train-step --name model` object on the rows in
the file NUMBERS, and `bpc train TRAIN-ARGS` (which must train STEPS steps in batches of BATCH, without --seed:
at most 10 steps, so that a progress line shows each), and checks that the trained values and every step's
objective are bit for bit the same, and that a step over no rows returned NaN and changed nothing."""
import json
import re
import subprocess
import sys

bpc, header, harness, numbers, steps, batch = sys.argv[1:7]
train_args = sys.argv[sys.argv.index("--") + 1:]
text = open(header).read()
offsets = {m[1]: int(m[2]) for m in re.finditer(r"#define MODEL_IN_(\w+) (\d+)", text)}

with open(numbers) as rows:
    actual = json.loads(subprocess.run([harness, steps, batch], stdin=rows, check=True, capture_output=True,
                                       text=True).stdout)
trained = subprocess.run([bpc, "train"] + train_args, check=True, capture_output=True, text=True)
# "W = [[0.5, -0.3], ...]": every trained value, as nested lists JSON reads.
values = {m[1]: json.loads(m[2]) for m in re.finditer(r"^(\w+) = (.*)$", trained.stdout, re.M) if m[1] in offsets}
progress = {int(m[1]): float(m[2]) for m in re.finditer(r"^step (\d+)/\d+: \w+ = (\S+)$", trained.stderr, re.M)}


def flatten(value):
    return [x for item in value for x in flatten(item)] if isinstance(value, list) else [value]


count = 0
for name, value in values.items():
    for i, want in enumerate(flatten(value)):
        got = actual["in"][offsets[name] + i]
        if got != want:
            sys.exit(f"compare: {name} element {i}: the C program gives {got!r}, bpc train {want!r}")
        count += 1
if len(actual["losses"]) != int(steps) or not progress:
    sys.exit(f"compare: {len(actual['losses'])} steps in C, progress lines for {sorted(progress)}")
for step, want in progress.items():
    if actual["losses"][step - 1] != want:
        sys.exit(f"compare: step {step}: the C program's result {actual['losses'][step - 1]!r}, bpc train {want!r}")
if not actual["empty"]:
    sys.exit("compare: a step over no rows did not return NaN, or changed in[]")
print(f"same {count} trained values and {len(progress)} step results as bpc train")
