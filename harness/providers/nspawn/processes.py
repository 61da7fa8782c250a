"""The systemd-nspawn processes of the harness, found and stopped by PID through /proc
(the host has no systemd as PID 1, so there is no machinectl)."""

from __future__ import annotations

import os
import signal
import time
from pathlib import Path

from .network import bridge

# Only our containers carry this argument: what tells them from anybody else's.


def cmdline(pid: int) -> list[str]:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().decode(errors="replace").split("\0")
    except OSError:
        return []


def mark() -> str:
    """The argument that marks an nspawn of this harness: its bridge."""
    return f"--network-bridge={bridge()}"


def is_ours(pid: int) -> bool:
    argv = cmdline(pid)
    return bool(argv) and argv[0].endswith("systemd-nspawn") and mark() in argv


def children(pid: int) -> list[int]:
    kids = []
    for task in Path(f"/proc/{pid}/task").glob("*"):
        try:
            kids += [int(k) for k in (task / "children").read_text().split()]
        except OSError:
            pass
    return kids


def container_init(nspawn_pid: int) -> int | None:
    """PID 1 of the container (as the host sees it) of one of our nspawn processes."""
    if not (nspawn_pid and is_ours(nspawn_pid)):
        return None
    kids = children(nspawn_pid)
    return kids[0] if kids else None


def _kill(pid: int | None, sig: int) -> None:
    if pid:
        try:
            os.kill(pid, sig)
        except ProcessLookupError:
            pass


def _reap(pid: int) -> None:
    try:  # harmless when it is not our child
        os.waitpid(pid, os.WNOHANG)
    except ChildProcessError:
        pass


def stop(nspawn_pid: int, graceful: bool, timeout: float = 15.0) -> None:
    """Stop a container. Hard: kill its PID 1, which takes every process of the container
    with it at once. Graceful: SIGTERM to nspawn, which asks the container's init to end."""
    if not is_ours(nspawn_pid):
        return
    if graceful:
        _kill(nspawn_pid, signal.SIGTERM)
    else:
        _kill(container_init(nspawn_pid) or nspawn_pid, signal.SIGKILL)
    deadline = time.monotonic() + timeout
    while is_ours(nspawn_pid) and time.monotonic() < deadline:
        _reap(nspawn_pid)
        time.sleep(0.01)
    if is_ours(nspawn_pid):
        _kill(container_init(nspawn_pid), signal.SIGKILL)
        _kill(nspawn_pid, signal.SIGKILL)
        time.sleep(0.2)
    _reap(nspawn_pid)


def strays(known: set[int]) -> list[int]:
    """Our nspawn processes that no instance record explains."""
    pids = [int(p.name) for p in Path("/proc").iterdir() if p.name.isdigit()]
    return [pid for pid in pids if pid not in known and is_ours(pid)]


def kill_strays(known: set[int], timeout: float = 5.0) -> None:
    for pid in strays(known):
        for target in [*children(pid), pid]:
            _kill(target, signal.SIGKILL)
    deadline = time.monotonic() + timeout
    while strays(known) and time.monotonic() < deadline:
        time.sleep(0.05)
