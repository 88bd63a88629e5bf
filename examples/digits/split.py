#!/usr/bin/env python3
"""Splits the 8x8 digits (digits.csv.gz: 1,797 rows of 64 pixels 0..16, then the label; no header) into
train.csv.gz (1,437 rows, 80%) and test.csv.gz (360 rows), the rows shuffled with a fixed seed, so that every
copy of bp trains and scores on the same rows. The outputs are committed; this documents how they were made.
Usage: split.py [digits.csv.gz]"""
import gzip
import random
import sys

source = sys.argv[1] if len(sys.argv) > 1 else "digits.csv.gz"
with gzip.open(source, "rt") as f:
    rows = [line.strip() for line in f if line.strip()]
assert len(rows) == 1797, len(rows)
random.Random(20261129).shuffle(rows)
cut = len(rows) * 4 // 5
for name, part in (("train.csv.gz", rows[:cut]), ("test.csv.gz", rows[cut:])):
    # mtime 0: the same bytes on every run
    with open(name, "wb") as raw, gzip.GzipFile(fileobj=raw, mode="wb", mtime=0) as f:
        f.write(("\n".join(part) + "\n").encode())
    print(f"{name}: {len(part)} rows")
