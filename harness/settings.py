"""Every setting the harness takes from the environment, in one place: its variable, its
default and what it changes. `current()` reads them all into one object; no other module
reads an SVH_* variable. The README's Environment table lists exactly VARIABLES (a test
checks it).
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class Variable:
    name: str
    default: str  # as the README shows it
    meaning: str


VARIABLES = (
    Variable("SVH_CACHE_DIR", "~/.cache/salt-venv-harness", "images, keys, fetched inputs"),
    Variable("SVH_STATE_DIR", "/var/lib/salt-venv-harness", "running instances, failure logs"),
    Variable("SVH_SCRATCH_DIR", "/dev/shm/salt-venv-harness", "boxes' writable layers"),
    Variable("SVH_BUILD_CACHE_DIR", "$SVH_CACHE_DIR", "fetched inputs, wheels, CPython"),
    Variable("SVH_DIST_DIR", "dist/", "where packages are built and looked for"),
    Variable("SVH_LOCK_DIR", "builds/locks/", "the lock files builds install from"),
    Variable("SVH_BOOT_TIMEOUT", "60", "seconds a box has to answer SSH"),
    Variable("SVH_DEBIAN_MIRROR", "the host's apt mirror", "where images and sources come from"),
    Variable("SVH_DEBIAN_SECURITY_MIRROR", "the host's", "security updates in images"),
    Variable("SVH_BRIDGE", "svh-br0", "the boxes' bridge"),
    Variable("SVH_NETWORK", "10.242.17.0/24", "the boxes' subnet"),
    Variable("SVH_INSTANCE_SUFFIX", "the xdist worker, or main", "the suites' box names"),
    Variable("SVH_LIBVIRT_DRIVER", "kvm, else qemu", "libvirt domain type for VMs"),
    Variable("SVH_VAGRANT_HYPERVISOR", "the box's first found", "virtualbox or libvirt"),
    Variable("SVH_VAGRANT_NETWORK", "svh-vagrant", "libvirt's management network"),
    Variable("SVH_VAGRANT_NETWORK_ADDRESS", "10.242.18.0/24", "its subnet"),
    Variable("SVH_RUN_DIR", "/run/salt-venv-harness", "libvirt daemons the harness started"),
    Variable("SVH_VM_BOOT_DIR", "/var/lib/libvirt/boot/salt-venv-harness", "VM kernels"),
    Variable("SVH_EVENTS", "unset", "set by harness verify: its suites' event file"),
    Variable("SVH_RUN", "unset", "set by harness verify or pytest: the run a box belongs to"),
)


@dataclass(frozen=True)
class Settings:
    env: Mapping[str, str]

    def _get(self, name: str, default: str = "") -> str:
        assert any(v.name == name for v in VARIABLES), f"{name} is not in settings.VARIABLES"
        return self.env.get(name) or default

    def path(self, name: str, default: Path | str) -> Path:
        return Path(self._get(name) or default)

    def text(self, name: str, default: str = "") -> str:
        """The variable's value, or `default` when it is unset or empty."""
        return self._get(name, default)

    @property
    def boot_timeout(self) -> float:
        return float(self._get("SVH_BOOT_TIMEOUT", "60"))


def export(name: str, value: str) -> None:
    """Set a variable for this process and every process it starts from now on."""
    assert any(v.name == name for v in VARIABLES), f"{name} is not in settings.VARIABLES"
    os.environ[name] = value


def current() -> Settings:
    """The settings of this process, as its environment has them now."""
    return Settings(os.environ)
