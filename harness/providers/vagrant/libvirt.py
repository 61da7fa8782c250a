"""libvirt around the VMs: what the hypervisor accepts, storage left by older boxes, and
domains a crashed run left behind (libvirt_daemons.py starts and stops the daemons)."""

from __future__ import annotations

import time

from ... import paths
from ...catalog import Box
from ...errors import ProviderUnavailable
from ...runner import capture
from ...state import Instance
from . import libvirt_daemons
from .host import libvirt_driver
from .libvirt_daemons import virsh
from .offline_box import BOX_PREFIX
from .project import DOMAIN_PREFIX


def check_driver(box: Box) -> None:
    """The hypervisor must take the domain type we ask for, or the VM never boots."""
    driver = libvirt_driver()
    # A libvirtd that has just started probes qemu on the first question, and under load that
    # probe can fail once ("an error occurred, but the cause is unknown"): ask up to 3 times.
    for attempt in range(3):
        done = capture(
            ["virsh", "-c", libvirt_daemons.URI, "domcapabilities", "--virttype", driver],
            timeout=60,
        )
        if done.returncode == 0:
            return
        if attempt < 2:
            time.sleep(5 * (attempt + 1))
    why = (done.stderr.strip().splitlines() or ["no reason given"])[-1]
    other = " or --provider nspawn" if box.providers.nspawn else ""
    raise ProviderUnavailable(
        f"libvirt cannot run {driver} guests here ({why}): install qemu-system-x86 and "
        f"libvirt-daemon-driver-qemu (./run setup vagrant){other}"
    )


def prune_base_volumes(box: Box, current_box: str) -> None:
    """vagrant-libvirt copies each box into the storage pool once; copies of older builds
    of this box are dead weight (call only when no other VM of the box runs)."""
    prefix = f"{BOX_PREFIX}{box.name}-".replace("/", "-VAGRANTSLASH-")
    current = current_box.replace("/", "-VAGRANTSLASH-")
    for volume in virsh("vol-list", "default", "--name").split():
        if volume.startswith(prefix) and not volume.startswith(current + "_"):
            virsh("vol-delete", volume, "--pool", "default")


def stray_domains(live: set[str]) -> list[str]:
    """Domains of this state dir's VMs (by their description) that no record explains."""
    if not libvirt_daemons.running_pid("libvirtd"):
        return []
    stray = []
    for domain in virsh("list", "--all", "--name").split():
        if domain.startswith(DOMAIN_PREFIX) and domain not in live:
            description = virsh("desc", domain).strip()
            if description.startswith(str(paths.instances_dir()) + "/"):
                stray.append(domain)
    return stray


def remove_domain(domain: str) -> None:
    virsh("destroy", domain)
    virsh("undefine", domain, "--snapshots-metadata", "--remove-all-storage", "--nvram")


def domain_running(instance: Instance) -> bool:
    pid_file = f"/run/libvirt/qemu/{instance.extra.domain}.pid"
    try:
        with open(pid_file) as f:
            pid = int(f.read().strip())
        with open(f"/proc/{pid}/cmdline", "rb") as f:
            return f.read().startswith(b"/usr/bin/qemu-system")
    except (OSError, ValueError):
        return False
