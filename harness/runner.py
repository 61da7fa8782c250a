"""Run a host command with its output teed into a log file and its latest line shown as
progress: image builds, Vagrant box builds, pip downloads and the suites all run this way.
"""

from __future__ import annotations

import ctypes
import logging
import os
import signal
import subprocess
import threading
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import IO

from . import progress
from .errors import HarnessError

log = logging.getLogger(__name__)


def capture(
    argv: list[str],
    timeout: float | None = None,
    check: bool = False,
    text: bool = True,
    cwd: Path | None = None,
    stdin: IO | None = None,
) -> subprocess.CompletedProcess:
    """Run a short host command and keep its output: the one door for host commands that
    are not streamed (tee) or logged (run_logged). A missing program, a timeout and (with
    `check`) a non-zero exit are each one line."""
    log.debug("$ %s", " ".join(argv))
    try:
        done = subprocess.run(
            argv, capture_output=True, text=text, timeout=timeout, cwd=cwd, stdin=stdin
        )
    except FileNotFoundError:
        raise HarnessError(
            f"{argv[0]} is not installed on this host (./run setup installs it)"
        ) from None
    except subprocess.TimeoutExpired:
        raise HarnessError(f"`{' '.join(argv)}` did not end within {timeout:.0f}s") from None
    if check and done.returncode != 0:
        said = done.stderr if text else done.stderr.decode(errors="replace")
        tail = (said.strip().splitlines() or ["no output"])[-1]
        raise HarnessError(f"`{' '.join(argv)}` exited {done.returncode}: {tail}")
    return done


def last_error_line(log: Path, limit: int = 200) -> str:
    """The last line of `log` that looks like an error (else its last line), for a one-line
    message; empty when the log cannot be read."""
    try:
        lines = [ln.strip() for ln in log.read_text(errors="replace").splitlines() if ln.strip()]
    except OSError:
        return ""
    errors = [ln for ln in lines if ln.startswith("ERROR") or "error" in ln.lower()]
    return (errors or lines or [""])[-1][:limit]


def tee(
    argv: list[str],
    log: IO[str],
    env: Mapping[str, str] | None = None,
    cwd: Path | None = None,
    on_line: Callable[[str], None] = progress.detail,
) -> int:
    """Run argv; every line of its output goes to `log` and to on_line. Returns its exit code."""
    log.write("$ " + " ".join(argv) + "\n")
    log.flush()
    proc = subprocess.Popen(
        argv,
        stdin=subprocess.DEVNULL,  # nothing we run may wait for a terminal
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env=dict(env) if env is not None else None,
        cwd=cwd,
        # Its own process group: a signal to ours (a terminal's Ctrl-C, `timeout`) reaches it
        # once, passed on by _stop, and never twice (a second one cuts its cleanup short).
        start_new_session=True,
        preexec_fn=_end_with_parent(os.getpid()),
    )
    assert proc.stdout is not None
    try:
        for line in proc.stdout:
            log.write(line)
            if line.strip():
                on_line(line.rstrip())
        return proc.wait()
    except BaseException:
        _stop(proc, log)
        raise


PR_SET_PDEATHSIG = 1


def _end_with_parent(parent: int) -> Callable[[], None]:
    """For the child: SIGTERM when this process dies. Its own session keeps it out of a
    signal to ours, so a SIGKILL here (which runs no _stop) would leave it running on, and
    a suite run that outlives us tears its boxes down late, by name, under a later run."""

    def arm() -> None:
        ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGTERM)
        if os.getppid() != parent:  # died before the signal was armed
            os.kill(os.getpid(), signal.SIGTERM)

    return arm


def _signal_group(proc: subprocess.Popen, signum: int) -> None:
    try:
        os.killpg(proc.pid, signum)
    except ProcessLookupError:
        pass  # every process of the group has ended


def _stop(proc: subprocess.Popen, log: IO[str], grace: float = 120.0) -> None:
    """Ctrl-C (or an error) here: tee's child stopped as end() stops a job, its output
    drained into `log` meanwhile (or it blocks on a full pipe)."""
    assert proc.stdout is not None
    end(proc, grace, drain=lambda: log.writelines(proc.stdout or ()))


def spawn(
    argv: list[str], log: IO[str], env: Mapping[str, str] | None = None, cwd: Path | None = None
) -> subprocess.Popen:
    """Start argv in the background, its output into `log`: for jobs that run beside each
    other (peer-compare --jobs). Like tee's child, it has its own process group and ends
    with us; end() stops it."""
    log.write("$ " + " ".join(argv) + "\n")
    log.flush()
    return subprocess.Popen(
        argv,
        stdin=subprocess.DEVNULL,
        stdout=log,
        stderr=subprocess.STDOUT,
        env=dict(env) if env is not None else None,
        cwd=cwd,
        start_new_session=True,
        preexec_fn=_end_with_parent(os.getpid()),
    )


def end(
    proc: subprocess.Popen, grace: float = 120.0, drain: Callable[[], None] | None = None
) -> None:
    """The child's process group asked to end (SIGTERM: a suite run or a job removes its
    boxes, as on Ctrl-C), killed if it has not within `grace`, or at once on a second
    Ctrl-C; what the child left in its group is killed once it has ended. Nothing keeps
    running. drain: reads what the child writes until it ends."""
    killer = threading.Timer(grace, _signal_group, (proc, signal.SIGKILL))
    try:
        _signal_group(proc, signal.SIGTERM)
        killer.start()
        if drain:
            drain()
        proc.wait()
    except BaseException:  # a second Ctrl-C: no more waiting
        _signal_group(proc, signal.SIGKILL)
        proc.wait()
        raise
    finally:
        killer.cancel()
        _signal_group(proc, signal.SIGKILL)


def run_logged(
    argv: list[str],
    log_path: Path,
    what: str,
    env: Mapping[str, str] | None = None,
    error: Callable[[str, Path], Exception] | None = None,
) -> None:
    """tee() into log_path (appending); a non-zero exit raises one line that names the step,
    the exit code and the last error line: error(message, log_path) when given, else a
    HarnessError that also names the log."""
    log_path.parent.mkdir(parents=True, exist_ok=True)
    with open(log_path, "a") as log:
        code = tee(argv, log, env=env or os.environ)
    if code != 0:
        tail = last_error_line(log_path)
        message = f"{what} failed (exit {code}){': ' + tail if tail else ''}"
        if error is not None:
            raise error(message, log_path)
        raise HarnessError(f"{message}; full log: {log_path}")
