#!/usr/bin/env python3
"""ignored-signal.py SIGNAL COMMAND...: runs COMMAND with SIGNAL ignored (as nohup or `trap '' INT` leave it)
and sends it SIGNAL every few milliseconds until it exits. Exits with COMMAND's status."""
import signal
import subprocess
import sys
import time

number = getattr(signal, sys.argv[1])
process = subprocess.Popen(sys.argv[2:], preexec_fn=lambda: signal.signal(number, signal.SIG_IGN))
while process.poll() is None:
    process.send_signal(number)
    time.sleep(0.002)
sys.exit(process.wait())
