"""A control group of its own for each box.

nspawn with --keep-unit (the host has no systemd to register machines with) puts the
container in a "payload" group under the group it was started from. Boxes started from
one process would share that group, and with it every unit's group inside: one box's
`systemctl stop salt-master` would kill, or fail to kill, another box's salt-master. So
each nspawn starts in salt-venv-harness/NAMESPACE/NAME of the systemd hierarchies, and the
group is removed once the box has stopped.
"""

from __future__ import annotations

import shlex
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


def _remove_tree(group: Path) -> bool:
    """rmdir the group and what the box's systemd made in it, deepest first."""
    if not group.exists():
        return True
    for sub in sorted((p for p in group.rglob("*") if p.is_dir()), key=lambda p: -len(p.parts)):
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


def leftovers(live: set[str]) -> list[Path]:
    return [
        group
        for parent in _parents()
        if parent.is_dir()
        for group in parent.iterdir()
        if group.is_dir() and group.name not in live
    ]


def remove_empty_parents() -> None:
    for parent in _parents():
        try:
            parent.rmdir()
        except OSError:
            pass
