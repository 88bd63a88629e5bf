#!/usr/bin/env python3
"""out-of-memory.py BPC DIR: runs `bpc check` on a script of 100,000 terms under address-space limits rising
from 1 GiB, and shows the first run that gets past start-up (bpc reserves a 1 GiB stack for its front end, so
lower limits fail there): its stderr and its exit status. The script needs a few hundred MiB, so that run is
one that runs out of memory while parsing."""
import os
import resource
import subprocess
import sys

bpc, folder = sys.argv[1], sys.argv[2]
script = os.path.join(folder, "sum.bp")
with open(script, "w") as f:
    f.write("input x = 1\nnode f = " + " + ".join(f"x * {i}" for i in range(1, 100000)) + "\noutput f\n")

for mib in range(1024, 4096, 32):
    limit = mib << 20
    result = subprocess.run([bpc, "check", script], capture_output=True, text=True,
                            preexec_fn=lambda: resource.setrlimit(resource.RLIMIT_AS, (limit, limit)))
    if "pthread_create failed" in result.stderr:
        continue
    sys.stdout.write(result.stderr)
    print(f"exit {result.returncode}")
    sys.exit(0)
sys.exit("out-of-memory: bpc never got past start-up")
