#!/usr/bin/env python3
"""Reads Graphviz DOT as bpc graph --dot prints it on stdin and fails unless every node drawn has an edge."""
import re
import sys

text = sys.stdin.read()
nodes = set(re.findall(r"^\s*(\w+) \[label=", text, re.MULTILINE))
connected = set()
for tail, head in re.findall(r"^\s*(\w+) -> (\w+)", text, re.MULTILINE):
    connected.update((tail, head))
if not nodes:
    sys.exit("no nodes in the DOT input")
isolated = sorted(nodes - connected)
if isolated:
    sys.exit("nodes without an edge: " + ", ".join(isolated))
print(f"ok: {len(nodes)} nodes, each with an edge")
