#!/usr/bin/env python3
"""Runs every command the README shows at a `$ ` prompt and checks that it prints what the README says.

    readme-check.py README.md BPC EXAMPLES_DIR

In each fenced block, a line `$ COMMAND  # comment` is run (in a temporary directory, one per block, with `bpc`
the bpc given, `python3` this interpreter, and `examples` a link to the examples folder) and its stdout (or, for
a command that exits 1, its stderr; for one that ends in `2>&1`, its stdout and then its stderr) is compared with
the lines below it, up to the next `$ ` line or the end of the block, trailing spaces aside. A line `...` stands
for any number of lines. Prints each mismatch and exits 1 if there is one.
"""
import re
import shlex
import subprocess
import sys
import tempfile
from pathlib import Path


def blocks(text):
    """Every fenced block's lines, with the README line number of its first line."""
    lines = text.splitlines()
    inside, start, body = False, 0, []
    for number, line in enumerate(lines, 1):
        if line.startswith("```"):
            if inside:
                yield start, body
            inside, start, body = not inside, number + 1, []
        elif inside:
            body.append(line)


def sessions(start, body):
    """(line number, command, expected output lines) for each `$ ` line of a block."""
    current = None
    for offset, line in enumerate(body):
        if line.startswith("$ "):
            if current:
                yield current
            command = re.sub(r"\s+#\s.*$", "", line[2:]).strip()
            current = (start + offset, command, [])
        elif current:
            current[2].append(line.rstrip())
    if current:
        yield current


def matches(expected, actual):
    """Whether `actual` matches `expected`, where a `...` line matches any run of lines."""
    if not expected:
        return not actual
    if expected[0] == "...":
        return any(matches(expected[1:], actual[k:]) for k in range(len(actual) + 1))
    return bool(actual) and actual[0] == expected[0] and matches(expected[1:], actual[1:])


def main():
    readme, bpc, examples = Path(sys.argv[1]), sys.argv[2], Path(sys.argv[3]).resolve()
    failures = checked = 0
    for start, body in blocks(readme.read_text()):
        # One directory per block: a later command reads what an earlier one wrote (`bpc build`, then `cat`).
        with tempfile.TemporaryDirectory() as directory:
            (Path(directory) / "examples").symlink_to(examples)  # paths print as the README shows them
            for line, command, expected in sessions(start, body):
                words = shlex.split(command)
                merged = words[-1] == "2>&1"  # stderr too, after stdout (as a pipe shows them)
                if merged:
                    words.pop()
                words = [bpc if w == "bpc" else sys.executable if w == "python3" else w for w in words]
                if words[0] == sys.executable:  # a Python example that runs bpc
                    words += ["--bpc", bpc]
                result = subprocess.run(words, cwd=directory, capture_output=True, text=True)
                actual = [l.rstrip() for l in result.stdout.splitlines()]
                diagnostics = [l.rstrip() for l in result.stderr.splitlines()]
                if merged:
                    actual, diagnostics = actual + diagnostics, []
                checked += 1
                # A result on stdout (exit 0), or diagnostics on stderr (exit 1), as bpc prints them.
                if not (result.returncode == 0 and matches(expected, actual) or
                        result.returncode == 1 and not actual and matches(expected, diagnostics)):
                    failures += 1
                    print(f"{readme.name}:{line}: `{command}` (exit {result.returncode}) printed:")
                    print("\n".join("  " + l for l in actual + diagnostics))
                    print("where the README shows:")
                    print("\n".join("  " + l for l in expected))
    print(f"{checked} commands checked, {failures} differ from the README")
    return 1 if failures or not checked else 0


if __name__ == "__main__":
    sys.exit(main())
