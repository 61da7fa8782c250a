"""The vagrant provider (python-vagrant): VMs from the same catalog through one Vagrantfile.

Each instance is its own Vagrant project (project.py); one project holds one machine, so
project level commands (snapshot save/restore, destroy) always act on the right VM.
Boxes: boxes.py (public, or offline from the nspawn image on libvirt); the host's
hypervisors and Vagrant itself: host.py; libvirt: libvirt.py and libvirt_daemons.py.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import time
from pathlib import Path

import vagrant

from ... import paths, progress, settings, state
from ...catalog import Box
from ...errors import BoxTimeout, HarnessError
from ...state import Instance, ProviderDetails
from ...transport import Endpoint, wait_for_banner
from ..base import Provider, configured_boot_timeout
from . import boxes, host, libvirt, libvirt_daemons, project
from .project import DOMAIN_PREFIX, MIN_BOOT_TIMEOUT

PRISTINE = "svh-pristine"  # snapshot taken right after up: restore's default
EMULATED_HANDSHAKE_TIMEOUT = 60.0


class VagrantProvider(Provider):
    name = "vagrant"

    # ---- availability -------------------------------------------------------------
    def hypervisor(self, box: Box) -> str | None:
        """The first of the box's hypervisors that this host has (SVH_VAGRANT_HYPERVISOR wins)."""
        assert box.providers.vagrant is not None
        wanted = settings.current().text("SVH_VAGRANT_HYPERVISOR") or None
        here = host.hypervisors_here()
        for hv in box.providers.vagrant.hypervisors:
            if hv in here and (wanted is None or hv == wanted):
                return hv
        return None

    def builds_offline(self, box: Box) -> bool:
        """Debian boxes on libvirt are made from the nspawn image instead of the registry."""
        return box.providers.nspawn is not None and self.hypervisor(box) == "libvirt"

    def unavailable_reason(self, box: Box | None = None) -> str | None:
        if box is not None and box.providers.vagrant is None:
            return f"{box.name} has no vagrant settings (use --provider nspawn)"
        if shutil.which("vagrant") is None:
            return (
                "vagrant is not installed (./run setup vagrant, or apt-get install vagrant "
                "vagrant-libvirt libvirt-daemon-system qemu-system-x86 qemu-utils)"
            )
        if box is None:
            return None
        hv = self.hypervisor(box)
        if hv is None:
            return self._no_hypervisor(box)
        if hv == "libvirt":
            reason = self._libvirt_missing()
            if reason:
                return reason
        if self.builds_offline(box):
            return self._offline_reason(box)
        return self._registry_reason(box)

    @staticmethod
    def _no_hypervisor(box: Box) -> str:
        assert box.providers.vagrant is not None
        options = {"virtualbox": "VirtualBox", "libvirt": "libvirt + qemu (./run setup vagrant)"}
        wanted = " or ".join(options[h] for h in box.providers.vagrant.hypervisors)
        return f"no hypervisor for {box.name} here: install {wanted}"

    @staticmethod
    def _libvirt_missing() -> str | None:
        if "vagrant-libvirt" not in host.plugins():
            return "the vagrant-libvirt plugin is missing (apt-get install vagrant-libvirt)"
        if os.geteuid() != 0:
            return "libvirt's qemu:///system needs root (run as root, e.g. sudo harness ...)"
        for tool, package in (("libvirtd", "libvirt-daemon-system"), ("qemu-img", "qemu-utils")):
            if shutil.which(tool) is None and not os.path.exists(f"/usr/sbin/{tool}"):
                return f"{tool} is missing (apt-get install {package}, or ./run setup vagrant)"
        return None

    def _offline_reason(self, box: Box) -> str | None:
        if self._offline_info(box) is None:
            reason = _nspawn().unavailable_reason(box)
            if reason:
                return f"its VM box is made from the nspawn image, and nspawn: {reason}"
        return None

    @staticmethod
    def _registry_reason(box: Box) -> str | None:
        assert box.providers.vagrant is not None
        public = box.providers.vagrant.box
        if boxes.added(public) or host.registry_reachable():
            return None
        nspawn_hint = " (or --provider nspawn)" if box.providers.nspawn else ""
        return (
            f"{box.name} needs the public box {public} from the Vagrant "
            f"registry, which this machine cannot reach: run it on a workstation with "
            f"VirtualBox or libvirt and internet access{nspawn_hint}"
        )

    def emulated(self, box: Box) -> bool:
        return self.hypervisor(box) == "libvirt" and host.libvirt_driver() == "qemu"

    def boot_timeout(self, instance: Instance | None = None) -> float:
        # Emulated VMs need minutes, not a container's seconds, for every wait after a boot.
        if instance is None or _emulated(instance):
            return max(configured_boot_timeout(), MIN_BOOT_TIMEOUT)
        return max(configured_boot_timeout(), 300)

    # ---- images -------------------------------------------------------------------
    def _offline_info(self, box: Box) -> dict | None:
        return boxes.offline_info(boxes.offline_target(box, _nspawn().image_dir(box)))

    def image_cached(self, box: Box) -> bool:
        if box.providers.vagrant is None:
            return False
        if self.builds_offline(box):
            info = self._offline_info(box)
            return info is not None and boxes.added(info["vagrant_box"])
        return boxes.added(box.providers.vagrant.box)

    def image_build(self, box: Box, force: bool = False, mirror: str | None = None) -> Path:
        self.require(box)
        assert box.providers.vagrant is not None
        if not self.builds_offline(box):
            # Public boxes: `vagrant up` fetches them from the registry (box_version honoured).
            slug = box.providers.vagrant.box.replace("/", "-VAGRANTSLASH-")
            return Path(host.vagrant_env()["VAGRANT_HOME"]) / "boxes" / slug
        nspawn_image = _nspawn().image_build(box, mirror=mirror)
        return boxes.build_offline(box, nspawn_image, force or mirror is not None)

    # ---- instances ----------------------------------------------------------------
    def new_instance(self, box: Box, name: str, image: Path) -> Instance:
        hv = self.hypervisor(box) or ""  # require() has found one
        instance = Instance(
            name=name,
            box_name=box.name,
            provider=self.name,
            user="vagrant",
            image=str(image),
            extra=ProviderDetails(
                hypervisor=hv,
                domain=DOMAIN_PREFIX + name,
                driver=host.libvirt_driver() if hv == "libvirt" else hv,
            ),
        )
        info = self._offline_info(box) if self.builds_offline(box) else None
        if info:
            instance.extra.vagrant_box = info["vagrant_box"]
        return instance

    def start(self, box: Box, instance: Instance) -> None:
        hv = instance.extra.hypervisor
        project.write(box, instance, self.boot_timeout(instance))
        if hv == "libvirt":
            libvirt_daemons.ensure_running()
            libvirt.check_driver(box)
            others = [
                i for i in self.instances() if i.box_name == box.name and i.name != instance.name
            ]
            if instance.extra.vagrant_box and not others:
                libvirt.prune_base_volumes(box, instance.extra.vagrant_box)
        v = self._project(instance)
        driver = f"/{instance.extra.driver}" if hv == "libvirt" else ""
        log = project.log(instance)
        with (
            progress.step(f"boot {instance.name} (vagrant up, {hv}{driver})"),
            host.checked(f"up {instance.name}", log),
        ):
            v.up(vm_name=instance.name, provider=hv)
        with host.checked(f"ssh-config {instance.name}", log):
            conf = v.conf(vm_name=instance.name)
        instance.address, instance.port = conf["HostName"], int(conf["Port"])
        instance.user, instance.key_file = conf["User"], conf["IdentityFile"]
        instance.save()
        with host.checked(f"snapshot save {PRISTINE}", log):
            v.snapshot_save(PRISTINE)

    def _project(self, instance: Instance) -> vagrant.Vagrant:
        return host.client(instance.dir, project.log(instance))

    def endpoint(self, instance: Instance) -> Endpoint:
        return Endpoint(
            instance.address,
            instance.port,
            instance.user,
            instance.key_file,
            sudo=instance.user != "root",
            # Under emulation sshd alone takes seconds to fork and answer on a loaded host.
            handshake_timeout=EMULATED_HANDSHAKE_TIMEOUT if _emulated(instance) else 15.0,
        )

    def snapshot(self, instance: Instance, snapshot: str) -> None:
        v = self._project(instance)
        self._ensure_daemons(instance)
        if snapshot in instance.snapshots:  # saving again replaces it
            with host.checked(f"snapshot delete {snapshot}", project.log(instance)):
                v.snapshot_delete(snapshot)
        with host.checked(f"snapshot save {snapshot}", project.log(instance)):
            v.snapshot_save(snapshot)
        instance.snapshots[snapshot] = []
        instance.save()
        self._wait_for_ssh(instance, f"saving snapshot {snapshot}")

    def restore_to(self, instance: Instance, snapshot: str | None) -> None:
        self._ensure_daemons(instance)
        target = snapshot or PRISTINE
        with host.checked(f"snapshot restore {target}", project.log(instance)):
            self._project(instance).snapshot_restore(target)
        # Snapshots of a running VM hold its memory: it resumes, sshd included.
        self._wait_for_ssh(instance, f"restoring {target}")

    def _wait_for_ssh(self, instance: Instance, after: str) -> None:
        timeout = self.boot_timeout(instance)
        patience = self.endpoint(instance).handshake_timeout
        deadline = time.monotonic() + timeout
        if not wait_for_banner(instance.address, instance.port, deadline, patience / 5):
            raise BoxTimeout(
                f"box {instance.name}: sshd did not answer within {timeout:.0f}s "
                f"after {after} (log: {project.log(instance)})"
            )

    def _ensure_daemons(self, instance: Instance) -> None:
        if instance.extra.hypervisor == "libvirt":
            libvirt_daemons.ensure_running()

    def down(self, instance: Instance) -> None:
        if (instance.dir / ".vagrant").exists():
            self._ensure_daemons(instance)
            with host.checked(f"destroy {instance.name}", project.log(instance)):
                self._project(instance).destroy()
        self._forget(instance)

    def discard(self, instance: Instance) -> None:
        """Cleanup after a failed or interrupted up: nothing may stay, whatever fails here."""
        try:
            if (instance.dir / ".vagrant").exists():
                self._project(instance).destroy()
        except (subprocess.CalledProcessError, OSError, HarnessError):
            pass
        self._remove_domain(instance)
        self._forget(instance)

    def _remove_domain(self, instance: Instance) -> None:
        if instance.extra.hypervisor == "libvirt" and libvirt_daemons.running_pid("libvirtd"):
            libvirt.remove_domain(instance.extra.domain)

    def _forget(self, instance: Instance) -> None:
        logs = paths.state_dir() / "logs"
        if project.log(instance).exists():  # kept: errors point to it
            logs.mkdir(parents=True, exist_ok=True)
            shutil.copy(project.log(instance), logs / f"{instance.name}.vagrant.log")
        shutil.rmtree(instance.dir, ignore_errors=True)
        with state.locked():
            instance.forget()
            last = not self.instances()
        if last:
            libvirt_daemons.stop_ours()

    def is_running(self, instance: Instance) -> bool:
        if instance.extra.hypervisor == "libvirt":
            return libvirt.domain_running(instance)
        try:
            return any(s.state == "running" for s in self._project(instance).status())
        except (subprocess.CalledProcessError, OSError):
            return False

    # ---- leftovers of crashed runs ------------------------------------------------
    def _stray_domains(self) -> list[str]:
        return libvirt.stray_domains({i.extra.domain for i in self.instances()})

    def leftovers(self, only: str | None = None) -> list[str]:
        if only:  # stray domains have lost their box's name
            return []
        found = [f"libvirt domain {d}" for d in self._stray_domains()]
        if libvirt_daemons.owned_here() and not self.instances():
            found += [
                f"{name} (pid {pid}, started by the harness)"
                for name, pid in libvirt_daemons.started_by_us().items()
            ]
        return found

    def remove_leftovers(self, only: str | None = None) -> list[str]:
        found = self.leftovers(only)
        if only:
            return found
        for domain in self._stray_domains():
            libvirt.remove_domain(domain)
        if not self.instances():
            libvirt_daemons.stop_ours()
        return found


def _emulated(instance: Instance) -> bool:
    return instance.extra.hypervisor == "libvirt" and instance.extra.driver == "qemu"


def _nspawn():  # offline boxes start from the nspawn image
    from ..nspawn import NspawnProvider

    return NspawnProvider()
