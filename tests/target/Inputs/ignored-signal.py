#!/usr/bin/env python3
"""ignored-signal.py SIGNAL COMMAND...: runs COMMAND with SIGNAL ignored (as nohup or `trap '' INT` leave it)
and sends it SIGNAL every few milliseconds until it exits. Exits with COMMAND's status."""
import signal
import subprocess
import sys
import time

number = getattr(signal, sys.argv[1])
# Ignored here, before the fork: the child inherits it from its first instruction. (Ignoring it in the child,
# between fork and exec, left a window where a signal sent early killed the child before it ran COMMAND.)
signal.signal(number, signal.SIG_IGN)
process = subprocess.Popen(sys.argv[2:], restore_signals=False)
while process.poll() is None:
    process.send_signal(number)
    time.sleep(0.002)
sys.exit(process.wait())
