"""One Vagrant project per instance: instances_dir/NAME/ holds a two-line Vagrantfile that
loads ./Vagrantfile (next to this module) and the machine JSON rendered from the catalog
entry plus what this host needs (libvirt driver, direct kernel boot of an offline box)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from ... import platform, settings
from ...catalog import Box
from ...state import Instance
from . import libvirt_daemons
from .host import libvirt_driver

VAGRANTFILE = Path(__file__).with_name("Vagrantfile")
DOMAIN_PREFIX = "svh-"  # the Vagrantfile sets it as libvirt's default_prefix
# An isolated network (no forward): VMs reach the host and each other, nothing beyond.


def management_network() -> str:
    return settings.current().text("SVH_VAGRANT_NETWORK", "svh-vagrant")


def management_address() -> str:
    return settings.current().text("SVH_VAGRANT_NETWORK_ADDRESS", "10.242.18.0/24")


# Software emulation boots a VM in about a minute; leave room for a busy machine.
MIN_BOOT_TIMEOUT = 600.0


def _libvirt_settings(instance: Instance) -> dict:
    driver = libvirt_driver()
    settings = {
        "driver": driver,
        "uri": libvirt_daemons.URI,
        "management_network_name": management_network(),
        "management_network_address": management_address(),
        "management_network_mode": "none",
        # Lets leftovers() tell this state dir's VMs from anybody else's.
        "description": str(instance.dir),
    }
    if driver == "qemu":  # no host CPU to pass through under emulation
        settings.update({"cpu_mode": "custom", "cpu_model": "qemu64"})
    return settings


def machine(box: Box, instance: Instance, timeout: float) -> dict:
    """The machine JSON the Vagrantfile reads: the catalog entry plus this host's needs."""
    settings = box.providers.vagrant
    assert settings is not None
    spec: dict[str, Any] = {
        "name": instance.name,
        "box": settings.box,
        "box_version": settings.box_version,
        "memory": settings.memory,
        "cpus": settings.cpus,
        "boot_timeout": int(max(timeout, MIN_BOOT_TIMEOUT)),
        "virtualbox": dict(settings.virtualbox),
        "libvirt": dict(settings.libvirt),
    }
    if instance.extra.hypervisor == "libvirt":
        spec["libvirt"].update(_libvirt_settings(instance))
    if instance.extra.vagrant_box:  # an offline box made by offline_box.py
        boot = Path(instance.image) / "boot"
        spec["box"] = instance.extra.vagrant_box
        spec["box_version"] = None
        # A throwaway box on an isolated network: replacing the key costs a minute of
        # emulated CPU for nothing.
        spec["insert_key"] = False
        spec["libvirt"].update(
            {
                "kernel": str(boot / "vmlinuz"),
                "initrd": str(boot / "initrd.img"),
                "cmd_line": f"root=/dev/vda rw console=ttyS0 systemd.hostname={instance.name}",
            }
        )
    else:
        spec["provision"] = [conflicts_script(box)]
    return spec


def conflicts_script(box: Box) -> str:
    """Public boxes lack the distribution's conflict libraries the catalog lists: install
    them on first boot (nspawn and offline images have them built in)."""
    return platform.of(box).packages.install_from_repositories(box.conflicts)


def write(box: Box, instance: Instance, timeout: float) -> None:
    instance.dir.mkdir(parents=True, exist_ok=True)
    machine_json = instance.dir / "machine.json"
    machine_json.write_text(json.dumps(machine(box, instance, timeout), indent=2))
    (instance.dir / "Vagrantfile").write_text(
        f"SVH_MACHINE_JSON = {json.dumps(str(machine_json))}\nload {json.dumps(str(VAGRANTFILE))}\n"
    )


def log(instance: Instance) -> Path:
    return instance.dir / "vagrant.log"
