"""Copy-on-write roots: an overlay of the image (plus snapshot layers) per instance.

The instance dir holds merged/ (the mounted root); the writable layers (upper/ work/ and
layers/N-NAME, saved upper dirs, newest first in Instance.layers) live in the instance's
layers home: a directory in memory (SCRATCH, a tmpfs) while it has room, else the
instance dir. A package install writes some 15,000 files, and creating files on the
host's disk through the overlay costs ten times what it costs in memory.
"""

from __future__ import annotations

import shutil
import subprocess
import time
from pathlib import Path

from ... import paths, settings
from ...errors import HarnessError
from ...runner import capture
from ...state import Instance

# Room a box's layers may take: its payload in each snapshot, a master, an older line.
SCRATCH_MIN_FREE = 4 << 30


def _run(argv: list[str]) -> subprocess.CompletedProcess:
    return capture(argv)


def scratch_root() -> Path | None:
    """The tmpfs for layers (SVH_SCRATCH_DIR; "off" keeps them on disk), per namespace."""
    chosen = settings.current().text("SVH_SCRATCH_DIR", "/dev/shm/salt-venv-harness")
    if chosen == "off":
        return None
    return Path(chosen) / paths.namespace()


def layers_home(instance: Instance) -> Path:
    """Where the instance's writable layers live; chosen once, at its first mount."""
    home = instance.extra.layers_home
    if home:
        return Path(home)
    root = scratch_root()
    chosen = instance.dir
    if root is not None:
        try:
            root.mkdir(parents=True, exist_ok=True)
            if shutil.disk_usage(root).free >= SCRATCH_MIN_FREE:
                chosen = root / instance.name
                shutil.rmtree(chosen, ignore_errors=True)  # a crashed namesake's layers
        except OSError:
            pass
    instance.extra.layers_home = str(chosen)
    instance.save()
    return chosen


def layer_dirs(instance: Instance) -> tuple[Path, Path, Path]:
    home = layers_home(instance)
    return home / "upper", home / "work", instance.dir / "merged"


def merged(instance: Instance) -> Path:
    return instance.dir / "merged"


def mount(instance: Instance) -> None:
    upper, work, root = layer_dirs(instance)
    for d in (upper, work, root):
        d.mkdir(parents=True, exist_ok=True)
    lower = ":".join([*instance.layers, str(Path(instance.image) / "rootfs")])
    opts = f"lowerdir={lower},upperdir={upper},workdir={work},index=off"
    done = _run(["mount", "-t", "overlay", "overlay", "-o", opts, str(root)])
    if done.returncode != 0:
        raise HarnessError(f"box {instance.name}: overlay mount failed: {done.stderr.strip()}")


def lower_dirs_mounted() -> set[str]:
    """Every lower directory of an overlay mounted on this host, whichever run (and state
    directory) mounted it: /proc/mounts knows them all."""
    found: set[str] = set()
    for line in Path("/proc/mounts").read_text().splitlines():
        fields = line.split()
        if len(fields) > 3 and fields[2] == "overlay":
            for option in fields[3].split(","):
                if option.startswith("lowerdir="):
                    found.update(option.removeprefix("lowerdir=").split(":"))
    return found


def mounts_under(root: Path) -> list[str]:
    found = []
    prefix = str(root).rstrip("/") + "/"
    with open("/proc/self/mountinfo") as f:
        for line in f:
            mount_point = line.split()[4].replace("\\040", " ")
            if mount_point.startswith(prefix):
                found.append(mount_point)
    return found


def umount_all(root: Path, keep: frozenset[str] = frozenset()) -> None:
    """Unmount everything below root, deepest first, except instance names in `keep`."""
    for mount_point in sorted(mounts_under(root), reverse=True):
        if keep and Path(mount_point).relative_to(root).parts[0] in keep:
            continue
        if _run(["umount", mount_point]).returncode != 0:
            _run(["umount", "-l", mount_point])


def umount(instance: Instance) -> None:
    umount_all(instance.dir)


def save_layer(instance: Instance, snapshot: str) -> None:
    """Turn the (unmounted) upper dir into a read-only layer named after the snapshot."""
    upper, work, _ = layer_dirs(instance)
    layers_root = layers_home(instance) / "layers"
    layers_root.mkdir(exist_ok=True)
    layer = layers_root / f"{sum(1 for _ in layers_root.iterdir())}-{snapshot}"
    upper.rename(layer)
    shutil.rmtree(work, ignore_errors=True)
    instance.layers = [str(layer), *instance.layers]
    instance.snapshots[snapshot] = list(instance.layers)


def drop_changes(instance: Instance) -> None:
    """Throw away what the (unmounted) instance changed since its current layers."""
    upper, work, _ = layer_dirs(instance)
    delete_in_background(upper)
    delete_in_background(work)


def delete(instance: Instance) -> None:
    """The instance's files: its dir and, in memory, its layers."""
    home = Path(instance.extra.layers_home or instance.dir)
    if home != instance.dir:
        delete_in_background(home)
    delete_in_background(instance.dir)


def disk_trash() -> Path:
    return paths.state_dir() / "trash"


def memory_trash(root: Path) -> Path:
    """Beside the namespaces' scratch dirs: on their tmpfs, so a rename moves a dir there."""
    return root.parent / ".trash"


def trash_dirs() -> list[Path]:
    root = scratch_root()
    return [disk_trash(), *([memory_trash(root)] if root else [])]


def remove_empty_scratch() -> None:
    """The namespace's scratch directory, once nothing is left in it."""
    root = scratch_root()
    try:
        if root is not None:
            root.rmdir()
    except OSError:
        pass


def scratch_homes() -> list[Path]:
    root = scratch_root()
    if root is None or not root.is_dir():
        return []
    return [d for d in root.iterdir() if d.is_dir()]


def delete_in_background(directory: Path) -> None:
    """Move a (large) dir aside at once and delete it behind our back: a box's upper layer
    holds whole package payloads, and rm -rf of them takes seconds."""
    if not directory.exists():
        return
    root = scratch_root()
    in_memory = root is not None and directory.is_relative_to(root)
    trash_root = memory_trash(root) if in_memory and root is not None else disk_trash()
    trash = trash_root / f"{directory.name}-{time.time_ns()}"
    trash.parent.mkdir(parents=True, exist_ok=True)
    try:
        directory.rename(trash)
    except OSError:
        shutil.rmtree(directory, ignore_errors=True)
        return
    # sh exits at once, so no zombie of ours waits for the rm.
    capture(["sh", "-c", 'rm -rf "$1" >/dev/null 2>&1 &', "_", str(trash)])
