#!/usr/bin/env python3
"""Usage: check-clean.py BPC SCRIPT... -- runs `BPC check` on each script and fails unless each exits 0 and
prints nothing (no warning)."""
import subprocess
import sys

bpc, scripts = sys.argv[1], sys.argv[2:]
failed = False
for script in scripts:
    result = subprocess.run([bpc, "check", script], capture_output=True, text=True)
    if result.returncode != 0 or result.stdout or result.stderr:
        print(f"{script}: exit {result.returncode}\n{result.stdout}{result.stderr}", end="")
        failed = True
if not scripts:
    sys.exit("no scripts given")
if failed:
    sys.exit(1)
print(f"ok: {len(scripts)} scripts")
