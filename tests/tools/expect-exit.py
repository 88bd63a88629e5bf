#!/usr/bin/env python3
"""expect-exit.py CODE COMMAND...: runs COMMAND, passes its output through, and succeeds only if it exited
with status CODE. Lets lit tests tell a diagnostic (1) from a usage error (2) from a crash."""
import subprocess
import sys

expected = int(sys.argv[1])
result = subprocess.run(sys.argv[2:])
if result.returncode != expected:
    print(f"expect-exit: expected exit status {expected}, got {result.returncode}", file=sys.stderr)
    sys.exit(1)
