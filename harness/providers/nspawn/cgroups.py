"""A control group of its own for each box.

nspawn with --keep-unit (the host has no systemd to register machines with) puts the
container in a "payload" group under the group it was started from. Boxes started from
one process would share that group, and with it every unit's group inside: one box's
`systemctl stop salt-master` would kill, or fail to kill, another box's salt-master. So
each nspawn starts in salt-venv-harness/NAMESPACE/NAME of the systemd hierarchies, and the
group is removed once the box has stopped.
"""

from __future__ import annotations

import os
import shlex
import signal
import time
from pathlib import Path

from ... import paths

ROOT = Path("/sys/fs/cgroup")
GROUP = "salt-venv-harness"


def hierarchies() -> list[Path]:
    """The hierarchies systemd tracks units in: name=systemd and the unified one (hybrid
    hosts), or the root (pure cgroup v2)."""
    found = [ROOT / h for h in ("systemd", "unified") if (ROOT / h / "cgroup.procs").exists()]
    if not found and (ROOT / "cgroup.controllers").exists():
        found = [ROOT]
    return found


def _parents() -> list[Path]:
    return [h / GROUP / paths.namespace() for h in hierarchies()]


def groups(name: str) -> list[Path]:
    return [parent / name for parent in _parents()]


def wrap(name: str, argv: list[str]) -> list[str]:
    """argv run from a shell that first moves itself into the box's own groups."""
    targets = groups(name)
    for group in targets:
        group.mkdir(parents=True, exist_ok=True)
    enter = " && ".join(f"echo $$ > {shlex.quote(str(g / 'cgroup.procs'))}" for g in targets)
    if not enter:
        return argv
    return ["sh", "-c", f'{enter} && exec "$@"', "sh", *argv]


def subgroups(group: Path) -> list[Path]:
    """The group and every group under it, as found now. A box's systemd makes and removes
    groups all the time: one that goes during the walk is left out, never an error."""
    return [Path(root) for root, _, _ in os.walk(group, onerror=lambda _: None)]


def pids_in(group: Path) -> set[int]:
    """Every process in the group and the groups under it."""
    found: set[int] = set()
    for sub in subgroups(group):
        try:
            found.update(int(pid) for pid in (sub / "cgroup.procs").read_text().split())
        except (OSError, ValueError):
            continue
    return found


def members(name: str) -> list[int]:
    """Every process in the box's groups, in every hierarchy and every group under them:
    nspawn, and the container's own processes, which outlive an nspawn that was killed."""
    found: set[int] = set()
    for group in groups(name):
        found |= pids_in(group)
    found.discard(os.getpid())
    return sorted(found)


def kill(name: str, timeout: float = 10.0) -> list[int]:
    """SIGKILL the box's processes, by PID, until its groups are empty; the PIDs killed.
    Killing the container's PID 1 ends its PID namespace; the rest is what forked since."""
    killed: list[int] = []
    deadline = time.monotonic() + timeout
    while (pids := members(name)) and time.monotonic() < deadline:
        for pid in pids:
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                continue
            if pid not in killed:
                killed.append(pid)
            _reap(pid)
        time.sleep(0.02)
    return killed


def _reap(pid: int) -> None:
    try:  # nspawn is our child when this process started it
        os.waitpid(pid, os.WNOHANG)
    except ChildProcessError:
        pass


def _remove_tree(group: Path) -> bool:
    """rmdir the group and what the box's systemd made in it, deepest first."""
    if not group.exists():
        return True
    for sub in sorted(subgroups(group)[1:], key=lambda p: -len(p.parts)):
        try:
            sub.rmdir()
        except OSError:
            pass
    try:
        group.rmdir()
    except OSError:
        return False
    return True


def remove(name: str, timeout: float = 5.0) -> None:
    """Remove the box's groups; its processes may take a moment to be gone."""
    deadline = time.monotonic() + timeout
    for group in groups(name):
        while not _remove_tree(group) and time.monotonic() < deadline:
            time.sleep(0.05)


def box_names() -> list[str]:
    """The boxes that have a group of their own, in any hierarchy."""
    return sorted(
        {
            group.name
            for parent in _parents()
            if parent.is_dir()
            for group in parent.iterdir()
            if group.is_dir()
        }
    )


def leftovers(live: set[str]) -> list[Path]:
    return [
        group
        for name in box_names()
        if name not in live
        for group in groups(name)
        if group.is_dir()
    ]


def remove_empty_parents() -> None:
    for parent in _parents():
        try:
            parent.rmdir()
        except OSError:
            pass
