"""What this host offers Vagrant: hypervisors, KVM, plugins, the registry; and the one way
the harness calls Vagrant (python-vagrant, output into a log, exit status checked)."""

from __future__ import annotations

import functools
import os
import shutil
import socket
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import vagrant

from ... import paths, settings
from ...errors import HarnessError
from ...runner import last_error_line

REGISTRY = ("vagrantcloud.com", 443)


def kvm_usable() -> bool:
    """/dev/kvm can exist yet refuse a stock kernel: a PVM hypervisor (kvm_pvm) offers no
    vmx/svm, and its guests need a PVM kernel."""
    if not os.access("/dev/kvm", os.R_OK | os.W_OK):
        return False
    if Path("/sys/module/kvm_pvm").exists():
        return False
    flags = Path("/proc/cpuinfo").read_text()
    return " vmx" in flags or " svm" in flags


def libvirt_driver() -> str:
    return settings.current().text("SVH_LIBVIRT_DRIVER") or ("kvm" if kvm_usable() else "qemu")


def vagrant_env() -> dict[str, str]:
    env = dict(
        os.environ,
        VAGRANT_CHECKPOINT_DISABLE="1",
        VAGRANT_BOX_UPDATE_CHECK_DISABLE="1",
        VAGRANT_NO_COLOR="1",
    )
    # Boxes the harness adds live in its cache, not in the user's ~/.vagrant.d.
    env.setdefault("VAGRANT_HOME", str(paths.cache_dir() / "vagrant"))
    env.pop("VAGRANT_VAGRANTFILE", None)
    env.pop("VAGRANT_CWD", None)
    return env


@functools.lru_cache(maxsize=1)
def plugins() -> tuple[str, ...]:
    try:
        return tuple(p.name for p in vagrant.Vagrant(env=vagrant_env()).plugin_list())
    except (subprocess.CalledProcessError, OSError):
        return ()


@functools.lru_cache(maxsize=1)
def registry_reachable() -> bool:
    try:
        socket.create_connection(REGISTRY, timeout=3).close()
        return True
    except OSError:
        return False


def hypervisors_here() -> list[str]:
    found = []
    if shutil.which("VBoxManage"):
        found.append("virtualbox")
    if shutil.which("virsh") and shutil.which("qemu-system-x86_64"):
        found.append("libvirt")
    return found


def client(root: Path | None, log_path: Path) -> vagrant.Vagrant:
    """python-vagrant for the project in `root` (None: no project), output into log_path."""
    log_path.parent.mkdir(parents=True, exist_ok=True)
    log_cm = vagrant.make_file_cm(str(log_path))
    return vagrant.Vagrant(
        root=str(root) if root else None, env=vagrant_env(), out_cm=log_cm, err_cm=log_cm
    )


@contextmanager
def checked(what: str, log_path: Path) -> Iterator[None]:
    """Every Vagrant call's exit status is checked; the error points to its log."""
    log_path.parent.mkdir(parents=True, exist_ok=True)
    with open(log_path, "a") as log:
        log.write(f"\n=== {time.strftime('%H:%M:%S')} vagrant {what}\n")
    try:
        yield
    except subprocess.CalledProcessError as e:
        tail = last_error_line(log_path)
        raise HarnessError(
            f"vagrant {what} failed (exit {e.returncode}){': ' + tail if tail else ''}; "
            f"full log: {log_path}"
        ) from None
