"""What boxes of this state directory that are not up left behind, box by box: the
processes in their control groups, their links, mounts, layers, files and groups; and
anything on the bridge that no box explains. Processes are found by their box's control
group and killed by PID, never matched by name."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from ... import paths, state
from . import cgroups, network, overlay, processes


@dataclass(frozen=True)
class Leftover:
    kind: str  # process, link, mount, layers, files, control group, bridge
    what: str
    box: str = ""  # the box it belongs to, when one does

    def __str__(self) -> str:
        return f"{self.kind} {self.what}" + (f" (box {self.box})" if self.box else "")


def _mounts(name: str) -> list[str]:
    return overlay.mounts_under(paths.instances_dir() / name)


def _files(name: str) -> list[Path]:
    """The instance dir of a box without a record, and its layers in memory."""
    found = [d for d in overlay.scratch_homes() if d.name == name]
    home = paths.instances_dir() / name
    if home.is_dir() and state.load(name) is None:
        found.append(home)
    return found


def _seen_names() -> set[str]:
    names = set(cgroups.box_names()) | {d.name for d in overlay.scratch_homes()}
    root = paths.instances_dir()
    if root.is_dir():
        names |= {d.name for d in root.iterdir() if d.is_dir()}
    return names


def of_box(name: str) -> list[Leftover]:
    """Everything box `name` holds on the host (call only for a box that is not up)."""
    pids = cgroups.members(name)
    found = [
        Leftover("process", f"{pid}: {' '.join(processes.cmdline(pid))[:80]}", name) for pid in pids
    ]
    veth = network.veth_of(pids)
    if veth:
        found.append(Leftover("link", veth, name))
    found += [Leftover("mount", m, name) for m in _mounts(name)]
    for d in _files(name):
        found.append(
            Leftover("layers" if d.parent != paths.instances_dir() else "files", str(d), name)
        )
    found += [Leftover("control group", str(g), name) for g in cgroups.groups(name) if g.is_dir()]
    return found


def _unexplained(up_veths: set[str], boxes: list[Leftover], known_pids: set[int]) -> list[Leftover]:
    """Our nspawn processes outside every box's group, and links on the bridge no box has."""
    in_groups = {int(item.what.split(":")[0]) for item in boxes if item.kind == "process"}
    found = [
        Leftover("process", f"{pid}: {' '.join(processes.cmdline(pid))[:80]}")
        for pid in processes.strays(known_pids)
        if pid not in in_groups
    ]
    explained = up_veths | {item.what for item in boxes if item.kind == "link"}
    found += [
        Leftover("link", f"{port} on bridge {network.bridge()}")
        for port in network.bridge_ports()
        if port not in explained
    ]
    return found


def find(
    up: dict[str, str | None], known_pids: set[int], only: str | None = None
) -> list[Leftover]:
    """Leftovers of every box not in `up` (box name -> its veth), or of box `only`."""
    names = [only] if only else sorted(_seen_names() - set(up))
    found = [item for name in names for item in of_box(name)]
    if only is None:
        found += _unexplained({v for v in up.values() if v}, found, known_pids)
        recorded = any(i.provider == "nspawn" for i in state.all_instances())
        if network.bridge_exists() and not recorded:
            found.append(Leftover("bridge", network.bridge()))
    return found


def remove(
    up: dict[str, str | None], known_pids: set[int], only: str | None = None
) -> list[Leftover]:
    """Remove what find() reports; returns it."""
    found = find(up, known_pids, only)
    boxes = sorted({item.box for item in found if item.box})
    for name in boxes:
        veth = network.veth_of(cgroups.members(name))
        cgroups.kill(name)
        network.remove_veth(veth)
    if only is None:
        processes.kill_strays(known_pids)
    for name in boxes:
        overlay.umount_all(paths.instances_dir() / name)
        for d in _files(name):
            overlay.delete_in_background(d)
        cgroups.remove(name, timeout=1.0)
    for item in found:
        if item.kind == "link" and not item.box:
            network.remove_veth(item.what.split()[0])
    return found
