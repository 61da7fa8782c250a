"""The vagrant provider (python-vagrant): VMs from the same catalog through boxes/Vagrantfile.

This module so far answers whether Vagrant can run a box here; starting VMs is the
vagrant provider's own piece of work.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

from ..catalog import Box
from ..errors import ProviderUnavailable
from .base import Provider


def _hypervisors_here() -> list[str]:
    found = []
    if shutil.which("VBoxManage"):
        found.append("virtualbox")
    if shutil.which("virsh") and shutil.which("qemu-system-x86_64"):
        found.append("libvirt")
    return found


def _kvm_usable() -> bool:
    """/dev/kvm can exist yet refuse a stock kernel (a PVM hypervisor does): probe the CPU flags."""
    if not os.path.exists("/dev/kvm"):
        return False
    cpuinfo = Path("/proc/cpuinfo").read_text()
    return " vmx" in cpuinfo or " svm" in cpuinfo


class VagrantProvider(Provider):
    name = "vagrant"

    def unavailable_reason(self, box: Box | None = None) -> str | None:
        if box is not None and box.providers.vagrant is None:
            return f"{box.name} has no vagrant settings"
        if shutil.which("vagrant") is None:
            return "vagrant is not installed (apt-get install vagrant vagrant-libvirt libvirt-daemon-system qemu-system-x86)"
        hypervisors = _hypervisors_here()
        if box is not None:
            hypervisors = [h for h in hypervisors if h in box.providers.vagrant.hypervisors]
        if not hypervisors:
            return "no hypervisor for Vagrant here (install VirtualBox, or libvirt + qemu with vagrant-libvirt)"
        if hypervisors == ["libvirt"]:
            plugins = subprocess.run(["vagrant", "plugin", "list"], capture_output=True, text=True)
            if "vagrant-libvirt" not in plugins.stdout:
                return "the vagrant-libvirt plugin is missing (apt-get install vagrant-libvirt)"
        if box is not None and box.family != "debian" and not _kvm_usable():
            return (f"{box.name} needs a public box and hardware virtualisation; "
                    "run it on a QA workstation with VirtualBox or KVM")
        return "starting VMs is not implemented yet in this provider"

    def _refuse(self, *_, **__):
        raise ProviderUnavailable(f"provider vagrant unavailable: {self.unavailable_reason()}")

    image_build = up = snapshot = restore = down = _refuse

    def image_cached(self, box: Box) -> bool:
        return False

    def is_running(self, instance) -> bool:
        return False
