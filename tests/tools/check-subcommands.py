#!/usr/bin/env python3
"""check-subcommands.py README BPC: the subcommands `BPC --help` lists and those README.md's command table
documents must be the same set, and each must answer `BPC NAME --help`. Prints the list; exits 1 on a mismatch."""
import re
import subprocess
import sys

readme, bpc = sys.argv[1], sys.argv[2]
documented = set(re.findall(r"^\| `bpc ([a-z][a-z-]*)", open(readme, encoding="utf-8").read(), re.M))
help_text = subprocess.run([bpc, "--help"], capture_output=True, text=True, check=True).stdout
listed_part = help_text.split("Subcommands:", 1)[1] if "Subcommands:" in help_text else ""
listed = set(re.findall(r"^  ([a-z][a-z-]*) ", listed_part, re.M))
failed = False
for name in sorted(documented - listed):
    print(f"documented in README but not in bpc --help: {name}")
    failed = True
for name in sorted(listed - documented):
    print(f"listed by bpc --help but not documented in README: {name}")
    failed = True
for name in sorted(listed):
    if subprocess.run([bpc, name, "--help"], capture_output=True).returncode != 0:
        print(f"bpc {name} --help failed")
        failed = True
print("subcommands: " + " ".join(sorted(listed)))
sys.exit(1 if failed else 0)
