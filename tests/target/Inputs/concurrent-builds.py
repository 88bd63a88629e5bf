#!/usr/bin/env python3
"""concurrent-builds.py BPC DIR SECONDS SCRIPT...: builds the scripts again and again, all at once, to the same
`-o DIR/out.o --name m`, for SECONDS, and checks after each round that out.o and out.h come from the same
script (each compared with that script's build made alone). Prints the number of rounds and mismatches."""
import os
import subprocess
import sys
import time

bpc, folder, seconds, scripts = sys.argv[1], sys.argv[2], float(sys.argv[3]), sys.argv[4:]
out = os.path.join(folder, "out.o")
header = os.path.join(folder, "out.h")


def read(path):
    with open(path, "rb") as f:
        return f.read()


references = []
for i, script in enumerate(scripts):
    reference = os.path.join(folder, f"ref{i}.o")
    subprocess.run([bpc, "build", script, "-o", reference, "--name", "m"], check=True)
    references.append((read(reference), read(os.path.join(folder, f"ref{i}.h"))))

rounds = mismatches = 0
deadline = time.monotonic() + seconds
while time.monotonic() < deadline:
    builds = [subprocess.Popen([bpc, "build", script, "-o", out, "--name", "m"]) for script in scripts * 3]
    if any(build.wait() != 0 for build in builds):
        sys.exit("concurrent-builds: a build failed")
    rounds += 1
    if (read(out), read(header)) not in references:
        mismatches += 1
print(f"{mismatches} mismatched pairs")
print("rounds:", rounds, file=sys.stderr)
