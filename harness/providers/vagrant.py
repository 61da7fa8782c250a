"""The vagrant provider (python-vagrant): VMs from the same catalog through boxes/Vagrantfile.

Each instance is its own Vagrant project, instances_dir/NAME/: a two-line Vagrantfile that
loads boxes/Vagrantfile, the machine JSON rendered from the catalog, and vagrant.log with
the output of every Vagrant call made for it. One project holds one machine, so project
level commands (snapshot save/restore, destroy) always act on the right VM.

Boxes: on libvirt, Debian boxes are made offline from their nspawn image (vagrant_box.py);
otherwise (CentOS, VirtualBox) the catalog's public box, which Vagrant fetches from its
registry. Where KVM cannot run a stock kernel, libvirt's qemu driver (software emulation)
is used.
"""

from __future__ import annotations

import functools
import json
import logging
import os
import shutil
import socket
import subprocess
import time
from contextlib import contextmanager
from pathlib import Path

from .. import paths, progress, state
from ..catalog import Box
from ..errors import BoxTimeout, HarnessError, ProviderUnavailable
from ..state import Instance
from ..transport import Endpoint, wait_for_banner
from . import libvirt_daemons, vagrant_box
from .base import Provider

# python-vagrant warns at import when vagrant is missing; unavailable_reason() says it in one line.
logging.getLogger("vagrant").setLevel(logging.ERROR)
import vagrant  # noqa: E402

VAGRANTFILE = paths.BOXES_DIR / "Vagrantfile"
PRISTINE = "svh-pristine"  # snapshot taken right after up: restore's default
DOMAIN_PREFIX = "svh-"  # boxes/Vagrantfile sets it as libvirt's default_prefix
# An isolated network (no forward): VMs reach the host and each other, nothing beyond.
MANAGEMENT_NETWORK = os.environ.get("SVH_VAGRANT_NETWORK", "svh-vagrant")
MANAGEMENT_ADDRESS = os.environ.get("SVH_VAGRANT_NETWORK_ADDRESS", "10.242.18.0/24")
# Software emulation boots a VM in about a minute; leave room for a busy machine.
MIN_BOOT_TIMEOUT = 600.0
EMULATED_HANDSHAKE_TIMEOUT = 60.0
REGISTRY = ("vagrantcloud.com", 443)


def _kvm_usable() -> bool:
    """/dev/kvm can exist yet refuse a stock kernel: a PVM hypervisor (kvm_pvm) offers no
    vmx/svm, and its guests need a PVM kernel."""
    if not os.access("/dev/kvm", os.R_OK | os.W_OK):
        return False
    if Path("/sys/module/kvm_pvm").exists():
        return False
    flags = Path("/proc/cpuinfo").read_text()
    return " vmx" in flags or " svm" in flags


def libvirt_driver() -> str:
    return os.environ.get("SVH_LIBVIRT_DRIVER") or ("kvm" if _kvm_usable() else "qemu")


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
def _plugins() -> tuple[str, ...]:
    try:
        return tuple(p.name for p in vagrant.Vagrant(env=vagrant_env()).plugin_list())
    except (subprocess.CalledProcessError, OSError):
        return ()


@functools.lru_cache(maxsize=1)
def _registry_reachable() -> bool:
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


class VagrantProvider(Provider):
    name = "vagrant"

    # ---- availability -------------------------------------------------------------
    def hypervisor(self, box: Box) -> str | None:
        """The first of the box's hypervisors that this host has (SVH_VAGRANT_HYPERVISOR wins)."""
        wanted = os.environ.get("SVH_VAGRANT_HYPERVISOR")
        here = hypervisors_here()
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
            options = {
                "virtualbox": "VirtualBox",
                "libvirt": "libvirt + qemu (./run setup vagrant)",
            }
            wanted = " or ".join(options[h] for h in box.providers.vagrant.hypervisors)
            return f"no hypervisor for {box.name} here: install {wanted}"
        if hv == "libvirt":
            if "vagrant-libvirt" not in _plugins():
                return "the vagrant-libvirt plugin is missing (apt-get install vagrant-libvirt)"
            if os.geteuid() != 0:
                return "libvirt's qemu:///system needs root (run as root, e.g. sudo harness ...)"
            for tool, package in (
                ("libvirtd", "libvirt-daemon-system"),
                ("qemu-img", "qemu-utils"),
            ):
                if shutil.which(tool) is None and not os.path.exists(f"/usr/sbin/{tool}"):
                    return f"{tool} is missing (apt-get install {package}, or ./run setup vagrant)"
        if self.builds_offline(box):
            if self._offline_info(box) is None:
                from .nspawn import NspawnProvider

                reason = NspawnProvider().unavailable_reason(box)
                if reason:
                    return f"its VM box is made from the nspawn image, and nspawn: {reason}"
            return None
        if not self._box_added(box.providers.vagrant.box) and not _registry_reachable():
            nspawn_hint = " (or --provider nspawn)" if box.providers.nspawn else ""
            return (
                f"{box.name} needs the public box {box.providers.vagrant.box} from the Vagrant "
                f"registry, which this machine cannot reach: run it on a workstation with "
                f"VirtualBox or libvirt and internet access{nspawn_hint}"
            )
        return None

    def require(self, box: Box):
        reason = self.unavailable_reason(box)
        if reason:
            raise ProviderUnavailable(f"provider vagrant unavailable for {box.name}: {reason}")

    # ---- Vagrant calls ------------------------------------------------------------
    def _vagrant(self, root: Path | None, log_path: Path) -> vagrant.Vagrant:
        log_path.parent.mkdir(parents=True, exist_ok=True)
        log_cm = vagrant.make_file_cm(str(log_path))
        return vagrant.Vagrant(
            root=str(root) if root else None, env=vagrant_env(), out_cm=log_cm, err_cm=log_cm
        )

    @contextmanager
    def _checked(self, what: str, log_path: Path):
        """Every Vagrant call's exit status is checked; the error points to its log."""
        with open(log_path, "a") as log:
            log.write(f"\n=== {time.strftime('%H:%M:%S')} vagrant {what}\n")
        try:
            yield
        except subprocess.CalledProcessError as e:
            tail = ""
            try:
                lines = [
                    ln for ln in log_path.read_text(errors="replace").splitlines() if ln.strip()
                ]
                tail = f": {lines[-1].strip()[:200]}" if lines else ""
            except OSError:
                pass
            raise HarnessError(
                f"vagrant {what} failed (exit {e.returncode}){tail}; full log: {log_path}"
            ) from None

    _boxes: list[vagrant.Box] | None = None  # per process: each listing costs a Vagrant start

    def _box_list(self) -> list[vagrant.Box]:
        if VagrantProvider._boxes is None:
            log = paths.cache_dir() / "vagrant" / "boxes.log"
            v = self._vagrant(None, log)
            with self._checked("box list", log):
                VagrantProvider._boxes = v.box_list()
        return VagrantProvider._boxes

    def _box_added(self, name: str) -> bool:
        return any(b.name == name for b in self._box_list())

    # ---- images -------------------------------------------------------------------
    def _offline_target(self, box: Box, mirror: str | None = None) -> Path:
        from .nspawn import NspawnProvider

        nspawn_image = NspawnProvider().image_dir(box, mirror)
        return vagrant_box.boot_root() / f"{box.name}-{vagrant_box.box_key(nspawn_image)}"

    def _offline_info(self, box: Box) -> dict | None:
        try:
            return json.loads((self._offline_target(box) / "image.json").read_text())
        except (OSError, ValueError):
            return None

    def image_cached(self, box: Box) -> bool:
        if box.providers.vagrant is None:
            return False
        if self.builds_offline(box):
            info = self._offline_info(box)
            return info is not None and self._box_added(info["vagrant_box"])
        return self._box_added(box.providers.vagrant.box)

    def image_build(self, box: Box, force: bool = False, mirror: str | None = None) -> Path:
        self.require(box)
        if not self.builds_offline(box):
            # Public boxes: `vagrant up` fetches them from the registry (box_version honoured).
            return (
                Path(vagrant_env()["VAGRANT_HOME"])
                / "boxes"
                / box.providers.vagrant.box.replace("/", "-VAGRANTSLASH-")
            )
        from .nspawn import NspawnProvider

        nspawn_image = NspawnProvider().image_build(box, mirror=mirror)
        target = vagrant_box.boot_root() / f"{box.name}-{vagrant_box.box_key(nspawn_image)}"
        with state.locked(paths.images_dir() / f".{box.name}-vagrant.lock"):
            info = self._offline_info(box) if mirror is None else None
            if info and not force and self._box_added(info["vagrant_box"]):
                return target
            log_path = paths.images_dir() / f"{box.name}.vagrant-box.log"
            v = self._vagrant(None, log_path)

            def add_box(name, box_file):
                with self._checked(f"box add {name}", log_path):
                    v.box_add(name, str(box_file), provider="libvirt", force=True)

            try:
                vagrant_box.build(box, nspawn_image, target, log_path, add_box)
            finally:
                VagrantProvider._boxes = None
            self._prune_offline_boxes(box, keep=target)
        return target

    def _prune_offline_boxes(self, box: Box, keep: Path):
        """Older VM boxes of `box` (an older definition) are never used again."""
        in_use = {i.image for i in state.all_instances()}
        for old in vagrant_box.boot_root().glob(f"{box.name}-*"):
            if old != keep and str(old) not in in_use:
                shutil.rmtree(old, ignore_errors=True)
        prefix = f"{vagrant_box.BOX_PREFIX}{box.name}-"
        current = f"{prefix}{keep.name.rsplit('-', 1)[1]}"
        log = paths.images_dir() / f"{box.name}.vagrant-box.log"
        for b in self._box_list():
            if b.name.startswith(prefix) and b.name != current:
                with self._checked(f"box remove {b.name}", log):
                    self._vagrant(None, log).box_remove(b.name, b.provider)
                VagrantProvider._boxes = None

    # ---- instances ----------------------------------------------------------------
    def _machine(self, box: Box, instance: Instance, timeout: float) -> dict:
        """The machine JSON boxes/Vagrantfile reads: the catalog entry plus this host's needs."""
        settings = box.providers.vagrant
        machine = {
            "name": instance.name,
            "box": settings.box,
            "box_version": settings.box_version,
            "memory": settings.memory,
            "cpus": settings.cpus,
            "boot_timeout": int(max(timeout, MIN_BOOT_TIMEOUT)),
            "virtualbox": dict(settings.virtualbox),
            "libvirt": dict(settings.libvirt),
        }
        if instance.extra["hypervisor"] == "libvirt":
            driver = libvirt_driver()
            machine["libvirt"].update(
                {
                    "driver": driver,
                    "uri": libvirt_daemons.URI,
                    "management_network_name": MANAGEMENT_NETWORK,
                    "management_network_address": MANAGEMENT_ADDRESS,
                    "management_network_mode": "none",
                    # Lets leftovers() tell this state dir's VMs from anybody else's.
                    "description": str(instance.dir),
                }
            )
            if driver == "qemu":  # no host CPU to pass through under emulation
                machine["libvirt"].update({"cpu_mode": "custom", "cpu_model": "qemu64"})
        if instance.extra.get("vagrant_box"):  # an offline box made by vagrant_box.py
            boot = Path(instance.image) / "boot"
            machine["box"] = instance.extra["vagrant_box"]
            machine["box_version"] = None
            # A throwaway box on an isolated network: replacing the key costs a minute of
            # emulated CPU for nothing.
            machine["insert_key"] = False
            machine["libvirt"].update(
                {
                    "kernel": str(boot / "vmlinuz"),
                    "initrd": str(boot / "initrd.img"),
                    "cmd_line": f"root=/dev/vda rw console=ttyS0 systemd.hostname={instance.name}",
                }
            )
        else:
            machine["provision"] = [self._conflicts_script(box)]
        return machine

    @staticmethod
    def _conflicts_script(box: Box) -> str:
        """Public boxes lack the distribution's conflict libraries the catalog lists: install
        them on first boot (nspawn and offline images have them built in)."""
        packages = " ".join(c.package for c in box.conflicts)
        if box.package_manager == "apt":
            return (
                "set -e; apt-get update -q; "
                f"DEBIAN_FRONTEND=noninteractive apt-get install -y -q {packages}"
            )
        needs_epel = any(c.repo == "epel" for c in box.conflicts)
        epel = "yum install -y -q epel-release; " if needs_epel else ""
        # CentOS 5-7 are end of life: their repositories moved to vault.centos.org.
        return (
            "set -e; sed -i -e 's/^mirrorlist=/#mirrorlist=/' "
            "-e 's|^#\\?baseurl=http://mirror.centos.org|baseurl=http://vault.centos.org|' "
            f"/etc/yum.repos.d/CentOS-*.repo; {epel}yum install -y -q {packages}"
        )

    def write_project(self, box: Box, instance: Instance, timeout: float):
        instance.dir.mkdir(parents=True, exist_ok=True)
        machine_json = instance.dir / "machine.json"
        machine_json.write_text(json.dumps(self._machine(box, instance, timeout), indent=2))
        (instance.dir / "Vagrantfile").write_text(
            f"SVH_MACHINE_JSON = {json.dumps(str(machine_json))}\n"
            f"load {json.dumps(str(VAGRANTFILE))}\n"
        )

    def _log(self, instance: Instance) -> Path:
        return instance.dir / "vagrant.log"

    def _project(self, instance: Instance) -> vagrant.Vagrant:
        return self._vagrant(instance.dir, self._log(instance))

    def up(self, box: Box, name: str, timeout: float = 60.0) -> Instance:
        self.require(box)
        if self.hypervisor(box) == "libvirt" and libvirt_driver() == "qemu":
            # Emulated VMs: every later wait of this process for the box (reconnects, the
            # suites' settle after a snapshot) needs minutes, not a container's seconds.
            os.environ.setdefault("SVH_BOOT_TIMEOUT", str(int(MIN_BOOT_TIMEOUT)))
        image = self.image_build(box)
        hv = self.hypervisor(box)
        with state.locked():
            if state.load(name):
                raise HarnessError(
                    f"box {name} is already up (harness ssh {name}; "
                    f"harness down {name} to remove it)"
                )
            instance = Instance(
                name=name,
                box=box.name,
                provider=self.name,
                user="vagrant",
                image=str(image),
                extra={
                    "hypervisor": hv,
                    "domain": DOMAIN_PREFIX + name,
                    "driver": libvirt_driver() if hv == "libvirt" else hv,
                },
            )
            if self.builds_offline(box):
                instance.extra["vagrant_box"] = self._offline_info(box)["vagrant_box"]
            shutil.rmtree(instance.dir, ignore_errors=True)
            instance.save()
        try:
            self.write_project(box, instance, timeout)
            if hv == "libvirt":
                libvirt_daemons.ensure_running()
                self._check_libvirt_driver(box)
                self._prune_base_volumes(box, instance)
            v = self._project(instance)
            driver = f"/{libvirt_driver()}" if hv == "libvirt" else ""
            with (
                progress.step(f"boot {name} (vagrant up, {hv}{driver})"),
                self._checked(f"up {name}", self._log(instance)),
            ):
                v.up(vm_name=name, provider=hv)
            with self._checked(f"ssh-config {name}", self._log(instance)):
                conf = v.conf(vm_name=name)
            instance.address, instance.port = conf["HostName"], int(conf["Port"])
            instance.user, instance.key_file = conf["User"], conf["IdentityFile"]
            instance.save()
            with self._checked(f"snapshot save {PRISTINE}", self._log(instance)):
                v.snapshot_save(PRISTINE)
        except BaseException:
            self._destroy_quietly(instance)
            raise
        return instance

    def _check_libvirt_driver(self, box: Box):
        """The hypervisor must take the domain type we ask for, or the VM never boots."""
        driver = libvirt_driver()
        done = subprocess.run(
            ["virsh", "-c", libvirt_daemons.URI, "domcapabilities", "--virttype", driver],
            capture_output=True,
            text=True,
            timeout=60,
        )
        if done.returncode != 0:
            why = (done.stderr.strip().splitlines() or ["no reason given"])[-1]
            other = " or --provider nspawn" if box.providers.nspawn else ""
            raise ProviderUnavailable(
                f"libvirt cannot run {driver} guests here ({why}): install qemu-system-x86 and "
                f"libvirt-daemon-driver-qemu (./run setup vagrant){other}"
            )

    def _prune_base_volumes(self, box: Box, instance: Instance):
        """vagrant-libvirt copies each box into the storage pool once; copies of older builds
        of this box are dead weight once no VM is backed by them."""
        if not instance.extra.get("vagrant_box"):
            return
        prefix = f"{vagrant_box.BOX_PREFIX}{box.name}-".replace("/", "-VAGRANTSLASH-")
        current = instance.extra["vagrant_box"].replace("/", "-VAGRANTSLASH-")
        others = [
            i
            for i in state.all_instances()
            if i.provider == self.name and i.name != instance.name and i.box == box.name
        ]
        if others:
            return
        for volume in self._virsh("vol-list", "default", "--name").split():
            if volume.startswith(prefix) and not volume.startswith(current + "_"):
                self._virsh("vol-delete", volume, "--pool", "default")

    def endpoint(self, instance: Instance) -> Endpoint:
        return Endpoint(
            instance.address,
            instance.port,
            instance.user,
            instance.key_file,
            sudo=instance.user != "root",
            handshake_timeout=self._handshake_timeout(instance),
        )

    @staticmethod
    def _handshake_timeout(instance: Instance) -> float:
        # Under emulation sshd alone takes seconds to fork and answer on a loaded host.
        emulated = (
            instance.extra.get("hypervisor") == "libvirt" and instance.extra.get("driver") == "qemu"
        )
        return EMULATED_HANDSHAKE_TIMEOUT if emulated else 15.0

    def snapshot(self, instance: Instance, snapshot: str):
        v = self._project(instance)
        self._ensure_daemons(instance)
        if snapshot in instance.snapshots:  # saving again replaces it
            with self._checked(f"snapshot delete {snapshot}", self._log(instance)):
                v.snapshot_delete(snapshot)
        with self._checked(f"snapshot save {snapshot}", self._log(instance)):
            v.snapshot_save(snapshot)
        instance.snapshots[snapshot] = []
        instance.save()
        self._wait_for_ssh(instance, f"saving snapshot {snapshot}")

    def restore(self, instance: Instance, snapshot: str | None = None):
        if snapshot is not None and snapshot not in instance.snapshots:
            known = ", ".join(instance.snapshots) or "none"
            raise HarnessError(
                f"box {instance.name} has no snapshot '{snapshot}' "
                f"(snapshots: {known}; harness snapshot {instance.name} NAME)"
            )
        self._ensure_daemons(instance)
        target = snapshot or PRISTINE
        with self._checked(f"snapshot restore {target}", self._log(instance)):
            self._project(instance).snapshot_restore(target)
        # Snapshots of a running VM hold its memory: it resumes, sshd included.
        self._wait_for_ssh(instance, f"restoring {target}")

    def _wait_for_ssh(self, instance: Instance, after: str):
        timeout = max(float(os.environ.get("SVH_BOOT_TIMEOUT", 60)), 300)
        patience = self._handshake_timeout(instance)
        if not wait_for_banner(
            instance.address, instance.port, time.monotonic() + timeout, patience / 5
        ):
            raise BoxTimeout(
                f"box {instance.name}: sshd did not answer within {timeout:.0f}s "
                f"after {after} (log: {self._log(instance)})"
            )

    def _ensure_daemons(self, instance: Instance):
        if instance.extra.get("hypervisor") == "libvirt":
            libvirt_daemons.ensure_running()

    def down(self, instance: Instance):
        if (instance.dir / ".vagrant").exists():
            self._ensure_daemons(instance)
            with self._checked(f"destroy {instance.name}", self._log(instance)):
                self._project(instance).destroy()
        self._forget(instance)

    def _destroy_quietly(self, instance: Instance):
        """Cleanup after a failed or interrupted up: nothing may stay, whatever fails here."""
        try:
            if (instance.dir / ".vagrant").exists():
                self._project(instance).destroy()
        except (subprocess.CalledProcessError, OSError, HarnessError):
            pass
        if instance.extra.get("hypervisor") == "libvirt" and libvirt_daemons.running_pid(
            "libvirtd"
        ):
            self._remove_domain(instance.extra["domain"])
        self._forget(instance)

    def _forget(self, instance: Instance):
        logs = paths.state_dir() / "logs"
        if self._log(instance).exists():  # kept: errors point to it
            logs.mkdir(parents=True, exist_ok=True)
            shutil.copy(self._log(instance), logs / f"{instance.name}.vagrant.log")
        shutil.rmtree(instance.dir, ignore_errors=True)
        with state.locked():
            instance.forget()
            last = not any(i.provider == self.name for i in state.all_instances())
        if last:
            libvirt_daemons.stop_ours()

    def is_running(self, instance: Instance) -> bool:
        if instance.extra.get("hypervisor") == "libvirt":
            pid_file = Path(f"/run/libvirt/qemu/{instance.extra['domain']}.pid")
            try:
                pid = int(pid_file.read_text().strip())
                return Path(f"/proc/{pid}/cmdline").read_bytes().startswith(b"/usr/bin/qemu-system")
            except (OSError, ValueError):
                return False
        try:
            return any(s.state == "running" for s in self._project(instance).status())
        except (subprocess.CalledProcessError, OSError):
            return False

    def diagnostics(self, instance: Instance) -> str:
        try:
            return "== vagrant.log ==\n" + "\n".join(
                self._log(instance).read_text(errors="replace").splitlines()[-60:]
            )
        except OSError:
            return ""

    # ---- leftovers of crashed runs ------------------------------------------------
    def _virsh(self, *args: str) -> str:
        done = subprocess.run(
            ["virsh", "-c", libvirt_daemons.URI, *args], capture_output=True, text=True, timeout=60
        )
        return done.stdout if done.returncode == 0 else ""

    def _stray_domains(self) -> list[str]:
        """Domains of this state dir's VMs (by their description) that no record explains."""
        if not libvirt_daemons.running_pid("libvirtd"):
            return []
        live = {i.extra.get("domain") for i in state.all_instances() if i.provider == self.name}
        stray = []
        for domain in self._virsh("list", "--all", "--name").split():
            if domain.startswith(DOMAIN_PREFIX) and domain not in live:
                description = self._virsh("desc", domain).strip()
                if description.startswith(str(paths.instances_dir()) + "/"):
                    stray.append(domain)
        return stray

    def _remove_domain(self, domain: str):
        self._virsh("destroy", domain)
        self._virsh("undefine", domain, "--snapshots-metadata", "--remove-all-storage", "--nvram")

    def leftovers(self) -> list[str]:
        found = [f"libvirt domain {d}" for d in self._stray_domains()]
        if libvirt_daemons.owned_here() and not any(
            i.provider == self.name for i in state.all_instances()
        ):
            found += [
                f"{name} (pid {pid}, started by the harness)"
                for name, pid in libvirt_daemons.started_by_us().items()
            ]
        return found

    def remove_leftovers(self):
        for domain in self._stray_domains():
            self._remove_domain(domain)
        if not any(i.provider == self.name for i in state.all_instances()):
            libvirt_daemons.stop_ours()
