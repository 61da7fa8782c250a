"""Removing boxes is not cut in half by a Ctrl-C or SIGTERM that comes meanwhile (a parent
passing on the user's Ctrl-C): the signal is raised once the removal is done."""

from __future__ import annotations

import subprocess
import sys

CODE = """
import os, signal, time
from harness import session
session.terminate_as_interrupt()
done = []
try:
    with session.interrupts_deferred():
        with session.interrupts_deferred():  # nested: still one deferral
            os.kill(os.getpid(), signal.SIGTERM)
            os.kill(os.getpid(), signal.SIGINT)
            time.sleep(0.2)
            done.append("removal finished")
    print("not interrupted")
except KeyboardInterrupt as e:
    print(done, e)
# Afterwards signals interrupt as before.
try:
    os.kill(os.getpid(), signal.SIGINT)
    time.sleep(1)
except KeyboardInterrupt:
    print("interrupted again")
"""


def test_a_signal_during_removal_is_raised_after_it():
    done = subprocess.run([sys.executable, "-c", CODE], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert lines[0] == "['removal finished'] signal 15, after the boxes were removed", lines
    assert lines[1] == "interrupted again", lines
