"""Removing boxes is not cut in half by a Ctrl-C or SIGTERM that comes meanwhile (a parent
passing on the user's Ctrl-C): the signal is raised once the removal is done."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

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


KILLED_PARENT = """
import sys
from harness import runner
runner.tee(["sleep", "120"], sys.stdout)
"""


def test_what_the_harness_runs_ends_when_the_harness_is_killed():
    # Its own session keeps a child out of signals to ours: a SIGKILL here runs no cleanup,
    # so the kernel must tell the child (which then removes its boxes itself).
    parent = subprocess.Popen([sys.executable, "-c", KILLED_PARENT], stdout=subprocess.PIPE)
    deadline = time.monotonic() + 30
    while not (sleeps := children(parent.pid)) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert sleeps, "the child never started"
    parent.kill()
    parent.wait()
    deadline = time.monotonic() + 5
    while any(Path(f"/proc/{pid}").exists() for pid in sleeps) and time.monotonic() < deadline:
        time.sleep(0.1)
    still = [pid for pid in sleeps if Path(f"/proc/{pid}").exists()]
    for pid in still:
        os.kill(pid, signal.SIGKILL)
    assert not still, "the child ran on after the harness was killed"


def children(pid: int) -> list[int]:
    found = Path(f"/proc/{pid}/task/{pid}/children")
    return [int(p) for p in found.read_text().split()] if found.exists() else []


def test_a_spawned_job_is_asked_to_end_and_leaves_nothing_in_its_group(tmp_path):
    from harness import runner

    # The job cleans up on SIGTERM (as peer-compare's do) and has a child of its own.
    job = "trap 'echo cleaned up; exit 0' TERM; sleep 300 & wait"
    log_path = tmp_path / "job.log"
    with open(log_path, "w") as log:
        proc = runner.spawn(["sh", "-c", job], log)
    deadline = time.monotonic() + 10
    while not (sleeps := children(proc.pid)) and time.monotonic() < deadline:
        time.sleep(0.05)  # its trap is set before its child starts
    runner.end(proc, grace=10)
    assert proc.returncode == 0
    assert "cleaned up" in log_path.read_text()
    deadline = time.monotonic() + 5  # the orphan is reaped by init, not by us
    while any(Path(f"/proc/{pid}").exists() for pid in sleeps) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert sleeps and not any(Path(f"/proc/{pid}").exists() for pid in sleeps)
