#!/usr/bin/env python3
"""out-of-memory.py BPC DIR: runs `bpc check` on a script of 20,000 terms under address-space limits rising
from 128 MiB until it succeeds. Once the process can load, every run that fails must fail with `bpc: error: ...` and exit status 1 (never
an abort or a crash); prints the first run that ran out of memory (its stderr and exit status), then the
exit status of the first run that succeeded."""
import os
import resource
import subprocess
import sys

bpc, folder = sys.argv[1], sys.argv[2]
script = os.path.join(folder, "sum.bp")
with open(script, "w") as f:
    f.write("input x = 1\nnode f = " + " + ".join(f"x * {i}" for i in range(1, 20000)) + "\noutput f\n")

shown = False
for mib in range(128, 4096, 64):
    limit = mib << 20
    result = subprocess.run([bpc, "check", script], capture_output=True, text=True,
                            preexec_fn=lambda: resource.setrlimit(resource.RLIMIT_AS, (limit, limit)))
    if "error while loading shared libraries" in result.stderr:
        continue  # too little to start the process at all: before bpc runs
    if result.returncode == 0:
        print(f"first success: exit {result.returncode}")
        sys.exit(0)
    # glibc itself may print a line first when even its own bookkeeping fails (a thread's TLS destructor list);
    # what bpc owes is its error and exit status 1, never an abort or a crash.
    if result.returncode != 1 or "bpc: error:" not in result.stderr:
        sys.stdout.write(result.stderr)
        sys.exit(f"out-of-memory: at {mib} MiB bpc exited with {result.returncode}")
    if not shown and "out of memory" in result.stderr:
        sys.stdout.write(result.stderr)
        print(f"exit {result.returncode}")
        shown = True
sys.exit("out-of-memory: bpc never succeeded")
