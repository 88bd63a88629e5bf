#!/usr/bin/env python3
"""through-fifo.py FIFO COMMAND...: makes the FIFO, runs COMMAND while reading everything written to the FIFO,
and prints how many bytes came through and whether FIFO is still a FIFO. Exits with COMMAND's status."""
import os
import stat
import subprocess
import sys
import threading

fifo, command = sys.argv[1], sys.argv[2:]
os.mkfifo(fifo)
received = []


def read():
    with open(fifo, "rb") as f:
        received.append(f.read())


reader = threading.Thread(target=read, daemon=True)
reader.start()
status = subprocess.run(command).returncode
reader.join(timeout=10)
print(f"{len(received[0]) if received else 0} bytes came through; "
      f"{'still a FIFO' if stat.S_ISFIFO(os.lstat(fifo).st_mode) else 'no longer a FIFO'}")
sys.exit(status)
