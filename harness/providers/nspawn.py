"""The nspawn provider: Debian boxes as systemd-nspawn containers with systemd as PID 1.

Image: an mmdebstrap root of the box's release from the host's Debian mirror, cached under
a hash of the box definition. Instance: an overlay (copy-on-write) over the image, booted
by systemd-nspawn on the harness bridge with a static address. Snapshots are overlay
layers, so restoring throws away an upper directory instead of copying anything.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import signal
import subprocess
import time
from pathlib import Path

from .. import hostnet, keys, paths, progress, state
from ..aptsources import debian_mirrors
from ..catalog import Box
from ..errors import BoxTimeout, HarnessError, ProviderUnavailable
from ..state import Instance
from ..transport import wait_for_banner
from .base import Provider

# Bump when the way images are made changes, so cached images are rebuilt.
IMAGE_FORMAT = 1
BASE_PACKAGES = [
    "systemd",
    "systemd-sysv",
    "dbus",
    "iproute2",
    "openssh-server",
    "procps",
    "iputils-ping",
    "python3",
    "ca-certificates",
]
PROVISION_SCRIPT = Path(__file__).with_name("nspawn_provision.sh")
NSPAWN_MARK = f"--network-bridge={hostnet.BRIDGE}"


def _run(argv, **kw) -> subprocess.CompletedProcess:
    return subprocess.run(argv, capture_output=True, text=True, **kw)


def _trash_dir() -> Path:
    return paths.state_dir() / "trash"


def _delete_in_background(directory: Path):
    """Move a (large) instance dir aside at once and delete it behind our back: a box's
    upper layer holds whole package payloads, and rm -rf of them takes seconds."""
    if not directory.exists():
        return
    trash = _trash_dir() / f"{directory.name}-{time.time_ns()}"
    trash.parent.mkdir(parents=True, exist_ok=True)
    try:
        directory.rename(trash)
    except OSError:
        shutil.rmtree(directory, ignore_errors=True)
        return
    # sh exits at once, so no zombie of ours waits for the rm.
    subprocess.run(["sh", "-c", 'rm -rf "$1" >/dev/null 2>&1 &', "_", str(trash)])


def _cmdline(pid: int) -> list[str]:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().decode(errors="replace").split("\0")
    except OSError:
        return []


def _is_our_nspawn(pid: int) -> bool:
    argv = _cmdline(pid)
    return bool(argv) and argv[0].endswith("systemd-nspawn") and NSPAWN_MARK in argv


def _children(pid: int) -> list[int]:
    kids = []
    for task in Path(f"/proc/{pid}/task").glob("*"):
        try:
            kids += [int(k) for k in (task / "children").read_text().split()]
        except OSError:
            pass
    return kids


def _mounts_under(root: Path) -> list[str]:
    found = []
    prefix = str(root).rstrip("/") + "/"
    with open("/proc/self/mountinfo") as f:
        for line in f:
            mount_point = line.split()[4].replace("\\040", " ")
            if mount_point.startswith(prefix):
                found.append(mount_point)
    return found


class NspawnProvider(Provider):
    name = "nspawn"

    # ---- availability -------------------------------------------------------------
    def unavailable_reason(self, box: Box | None = None) -> str | None:
        if box is not None and box.providers.nspawn is None:
            return f"{box.name} has no nspawn settings (only Debian boxes; use --provider vagrant)"
        if os.geteuid() != 0:
            return "needs root (run as root, e.g. sudo harness ...)"
        for tool, package in (
            ("systemd-nspawn", "systemd-container"),
            ("mmdebstrap", "mmdebstrap"),
            ("ip", "iproute2"),
        ):
            if shutil.which(tool) is None:
                return f"{tool} is missing (apt-get install {package}, or run ./run setup)"
        if "overlay" not in Path("/proc/filesystems").read_text():
            return "the kernel has no overlayfs (modprobe overlay)"
        return None

    def require(self, box: Box | None = None):
        reason = self.unavailable_reason(box)
        if reason:
            name = f" for {box.name}" if box else ""
            raise ProviderUnavailable(f"provider nspawn unavailable{name}: {reason}")

    # ---- images -----------------------------------------------------------------
    def _sources(self, box: Box, mirror: str | None) -> list[str]:
        host_archive, host_security = debian_mirrors()
        archive = mirror or os.environ.get("SVH_DEBIAN_MIRROR") or host_archive
        if not archive:
            raise HarnessError(
                "no Debian mirror found in /etc/apt/sources*; pass --mirror URL "
                "or set SVH_DEBIAN_MIRROR"
            )
        suite = box.providers.nspawn.suite
        comps = " ".join(box.providers.nspawn.components)
        sources = [f"deb {archive} {suite} {comps}", f"deb {archive} {suite}-updates {comps}"]
        security = os.environ.get("SVH_DEBIAN_SECURITY_MIRROR") or host_security
        if security and not mirror:
            sources.append(f"deb {security} {suite}-security {comps}")
        return sources

    def packages(self, box: Box) -> list[str]:
        wanted = BASE_PACKAGES + [c.package for c in box.conflicts] + box.build_packages
        return list(dict.fromkeys(wanted))

    def image_key(self, box: Box, mirror: str | None = None) -> str:
        _, public_key = keys.ensure_key()
        digest = hashlib.sha256(
            json.dumps(
                {
                    "format": IMAGE_FORMAT,
                    "box": box.model_dump(mode="json"),
                    "packages": self.packages(box),
                    "sources": self._sources(box, mirror),
                    "provision": PROVISION_SCRIPT.read_text(),
                    "key": public_key,
                },
                sort_keys=True,
            ).encode()
        ).hexdigest()
        return digest[:16]

    def image_dir(self, box: Box, mirror: str | None = None) -> Path:
        return paths.images_dir() / f"{box.name}-{self.image_key(box, mirror)}"

    def image_cached(self, box: Box) -> bool:
        return (self.image_dir(box) / "image.json").exists()

    def image_build(self, box: Box, force: bool = False, mirror: str | None = None) -> Path:
        self.require(box)
        target = self.image_dir(box, mirror)
        if (target / "image.json").exists() and not force:
            return target
        users = [i.name for i in state.all_instances() if i.image == str(target)]
        if users:  # their overlays read from it: replacing it would pull the floor from under them
            raise HarnessError(
                f"image {target.name} is in use by {', '.join(users)}; "
                f"harness down them first, then rebuild it"
            )
        # Two runs wanting the same image (pytest-xdist workers) build it once.
        with state.locked(paths.images_dir() / f".{box.name}.lock"):
            if (target / "image.json").exists() and not force:
                return target
            return self._build_image(box, target, mirror)

    def _build_image(self, box: Box, target: Path, mirror: str | None) -> Path:
        work = target.with_name(f".building-{target.name}-{os.getpid()}")
        log_path = paths.images_dir() / f"{box.name}.build.log"
        shutil.rmtree(work, ignore_errors=True)
        work.mkdir()
        _, public_key = keys.ensure_key()
        argv = [
            "mmdebstrap",
            "--variant=minbase",
            "--include=" + ",".join(self.packages(box)),
            f'--customize-hook=sh {PROVISION_SCRIPT} "$1" {box.name} '
            f"'{' '.join(c.package for c in box.conflicts)}'",
            box.providers.nspawn.suite,
            str(work / "rootfs"),
            *self._sources(box, mirror),
        ]
        started = time.monotonic()
        try:
            with (
                progress.step(f"image {box.name}: mmdebstrap {box.providers.nspawn.suite}"),
                open(log_path, "w") as log,
            ):
                log.write("$ " + " ".join(argv) + "\n")
                log.flush()
                env = dict(os.environ, SVH_PUBKEY=public_key)
                proc = subprocess.Popen(
                    argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env
                )
                for line in proc.stdout:
                    log.write(line)
                    progress.detail(line.strip())
                if proc.wait() != 0:
                    raise HarnessError(
                        f"image build of {box.name} failed (mmdebstrap exited "
                        f"{proc.returncode}); full log: {log_path}"
                    )
            (work / "image.json").write_text(
                json.dumps(
                    {
                        "box": box.name,
                        "key": target.name.rsplit("-", 1)[1],
                        "built_at": time.time(),
                        "seconds": round(time.monotonic() - started, 1),
                        "packages": self.packages(box),
                        "sources": self._sources(box, mirror),
                    },
                    indent=2,
                )
            )
            shutil.rmtree(target, ignore_errors=True)
            work.rename(target)
        finally:
            shutil.rmtree(work, ignore_errors=True)
        self._prune_old_images(box, keep=target)
        return target

    def _prune_old_images(self, box: Box, keep: Path):
        """An image of an older definition of the box is never used again."""
        in_use = {i.image for i in state.all_instances()}
        for old in paths.images_dir().glob(f"{box.name}-*"):
            if (
                old != keep
                and old.is_dir()
                and str(old) not in in_use
                and re.fullmatch(rf"{re.escape(box.name)}-[0-9a-f]{{16}}", old.name)
            ):
                shutil.rmtree(old, ignore_errors=True)

    # ---- instances --------------------------------------------------------------
    def up(self, box: Box, name: str, timeout: float = 60.0) -> Instance:
        self.require(box)
        image = self.image_build(box)
        key_file, _ = keys.ensure_key()
        with state.locked():
            if state.load(name):
                raise HarnessError(
                    f"box {name} is already up (harness ssh {name}; "
                    f"harness down {name} to remove it)"
                )
            hostnet.ensure_bridge()
            taken = {i.address for i in state.all_instances()}
            instance = Instance(
                name=name,
                box=box.name,
                provider=self.name,
                address=hostnet.allocate_address(taken),
                key_file=str(key_file),
                image=str(image),
            )
            shutil.rmtree(instance.dir, ignore_errors=True)
            instance.save()
        try:
            self._mount(instance)
            self._configure(instance)
            self._boot(instance, timeout)
        except BaseException:
            self.down(instance)
            raise
        return instance

    def _layer_dirs(self, instance: Instance) -> tuple[Path, Path, Path]:
        return instance.dir / "upper", instance.dir / "work", instance.dir / "merged"

    def _mount(self, instance: Instance):
        upper, work, merged = self._layer_dirs(instance)
        for d in (upper, work, merged):
            d.mkdir(parents=True, exist_ok=True)
        lower = ":".join([*instance.layers, str(Path(instance.image) / "rootfs")])
        opts = f"lowerdir={lower},upperdir={upper},workdir={work},index=off"
        done = _run(["mount", "-t", "overlay", "overlay", "-o", opts, str(merged)])
        if done.returncode != 0:
            raise HarnessError(f"box {instance.name}: overlay mount failed: {done.stderr.strip()}")

    def _umount(self, instance: Instance):
        for mount_point in sorted(_mounts_under(instance.dir), reverse=True):
            if _run(["umount", mount_point]).returncode != 0:
                _run(["umount", "-l", mount_point])

    def _configure(self, instance: Instance):
        """Per-instance files, written into the upper layer before boot."""
        _, _, merged = self._layer_dirs(instance)
        (merged / "etc/hostname").write_text(instance.name + "\n")
        network = merged / "etc/systemd/network/10-host0.network"
        network.parent.mkdir(parents=True, exist_ok=True)
        # Sorts before the shipped 80-container-host0.network; no Gateway: nothing beyond the bridge.
        network.write_text(
            "[Match]\nName=host0\n\n[Network]\n"
            f"Address={instance.address}/{hostnet.NETWORK.prefixlen}\n"
            "LinkLocalAddressing=no\nIPv6AcceptRA=no\n"
        )

    def _boot(self, instance: Instance, timeout: float):
        _, _, merged = self._layer_dirs(instance)
        console = open(instance.dir / "console.log", "ab")
        argv = [
            "systemd-nspawn",
            "-q",
            "-D",
            str(merged),
            "-b",
            "--register=no",
            "--keep-unit",
            "-M",
            instance.name,
            NSPAWN_MARK,
            "--resolv-conf=off",
            "--timezone=off",
            "--link-journal=no",
            "--console=read-only",
        ]
        with progress.step(f"boot {instance.name}"):
            proc = subprocess.Popen(
                argv,
                stdin=subprocess.DEVNULL,
                stdout=console,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
            console.close()
            instance.pid = proc.pid
            instance.save()
            deadline = time.monotonic() + timeout
            while time.monotonic() < deadline:
                if proc.poll() is not None:
                    raise BoxTimeout(
                        f"box {instance.name}: systemd-nspawn exited {proc.returncode} "
                        f"during boot\n{self._failure_tail(instance)}"
                    )
                if wait_for_banner(
                    instance.address, instance.port, min(deadline, time.monotonic() + 0.5)
                ):
                    self._record_veth(instance)
                    return
            raise BoxTimeout(
                f"box {instance.name}: sshd at {instance.address} did not answer "
                f"within {timeout:.0f}s (raise with SVH_BOOT_TIMEOUT)\n"
                f"{self._failure_tail(instance)}"
            )

    def _record_veth(self, instance: Instance):
        """Remember the host side of the box's veth: the kernel drops it only some time after
        the container dies, and a quick restart (restore) must not find it still there."""
        init = self._init_pid(instance)
        peer = (
            _run(["nsenter", "-t", str(init), "-n", "cat", "/sys/class/net/host0/iflink"])
            if init
            else None
        )
        if peer is None or peer.returncode != 0:
            return
        for link in Path("/sys/class/net").iterdir():
            try:
                if (link / "ifindex").read_text().strip() == peer.stdout.strip():
                    instance.extra["veth"] = link.name
                    instance.save()
                    return
            except OSError:
                continue

    def _remove_veth(self, instance: Instance):
        veth = instance.extra.get("veth")
        if veth and Path("/sys/class/net", veth).exists():
            _run(["ip", "link", "del", veth])  # deleting one end removes the pair

    def _failure_tail(self, instance: Instance) -> str:
        """Keep the console and journal of a box that failed to boot, and show their tail."""
        text = self.diagnostics(instance)
        logs = paths.state_dir() / "logs"
        logs.mkdir(parents=True, exist_ok=True)
        kept = logs / f"{instance.name}-{time.strftime('%Y%m%d-%H%M%S')}.log"
        kept.write_text(text)
        tail = "\n".join("    " + line for line in text.splitlines()[-12:])
        return f"  console/journal tail (full: {kept}):\n{tail}"

    def diagnostics(self, instance: Instance) -> str:
        parts = []
        try:
            parts.append(
                "== console ==\n" + (instance.dir / "console.log").read_text(errors="replace")
            )
        except OSError:
            pass
        init = self._init_pid(instance)
        if init:
            journal = _run(
                ["nsenter", "-t", str(init), "-a", "journalctl", "-b", "-n", "40", "--no-pager"],
                timeout=10,
            )
            parts.append("== journal ==\n" + journal.stdout + journal.stderr)
        return "\n".join(parts)

    def _init_pid(self, instance: Instance) -> int | None:
        if not (instance.pid and _is_our_nspawn(instance.pid)):
            return None
        kids = _children(instance.pid)
        return kids[0] if kids else None

    def is_running(self, instance: Instance) -> bool:
        return bool(instance.pid) and _is_our_nspawn(instance.pid)

    def _stop(self, instance: Instance, graceful: bool, timeout: float = 15.0):
        """Stop the container. Hard: kill its PID 1, which takes every process of the
        container with it at once. Graceful: ask systemd to power off."""
        if not self.is_running(instance):
            return
        pid = instance.pid
        if graceful:
            os.kill(pid, signal.SIGTERM)  # nspawn turns this into a clean poweroff
        else:
            init = self._init_pid(instance)
            os.kill(init or pid, signal.SIGKILL)
        deadline = time.monotonic() + timeout
        while _is_our_nspawn(pid) and time.monotonic() < deadline:
            try:  # reap it when it is our child; harmless otherwise
                os.waitpid(pid, os.WNOHANG)
            except ChildProcessError:
                pass
            time.sleep(0.01)
        if _is_our_nspawn(pid):
            init = self._init_pid(instance)
            for target in (init, pid):
                if target:
                    try:
                        os.kill(target, signal.SIGKILL)
                    except ProcessLookupError:
                        pass
            time.sleep(0.2)
        try:
            os.waitpid(pid, os.WNOHANG)
        except ChildProcessError:
            pass
        self._remove_veth(instance)

    def snapshot(self, instance: Instance, snapshot: str):
        upper, work, _ = self._layer_dirs(instance)
        self._stop(instance, graceful=True)
        self._umount(instance)
        layers_root = instance.dir / "layers"
        layers_root.mkdir(exist_ok=True)
        layer = layers_root / f"{sum(1 for _ in layers_root.iterdir())}-{snapshot}"
        upper.rename(layer)
        shutil.rmtree(work, ignore_errors=True)
        instance.layers = [str(layer), *instance.layers]
        instance.snapshots[snapshot] = list(instance.layers)
        instance.save()
        self._restart(instance)

    def restore(self, instance: Instance, snapshot: str | None = None):
        if snapshot is not None and snapshot not in instance.snapshots:
            known = ", ".join(instance.snapshots) or "none"
            raise HarnessError(
                f"box {instance.name} has no snapshot '{snapshot}' "
                f"(snapshots: {known}; harness snapshot {instance.name} NAME)"
            )
        upper, work, _ = self._layer_dirs(instance)
        self._stop(instance, graceful=False)
        self._umount(instance)
        _delete_in_background(upper)
        _delete_in_background(work)
        instance.layers = list(instance.snapshots[snapshot]) if snapshot else []
        instance.save()
        self._restart(instance)

    def _restart(self, instance: Instance):
        try:
            self._mount(instance)
            self._configure(instance)
            self._boot(instance, float(os.environ.get("SVH_BOOT_TIMEOUT", 60)))
        except BaseException:
            # Nothing stays running; the layers stay, so snapshots are not lost.
            self._stop(instance, graceful=False)
            self._umount(instance)
            raise

    def down(self, instance: Instance):
        self._stop(instance, graceful=False)
        self._umount(instance)
        _delete_in_background(instance.dir)
        with state.locked():
            instance.forget()
            if not any(i.provider == self.name for i in state.all_instances()):
                hostnet.remove_bridge()

    # ---- leftovers of crashed runs ------------------------------------------------
    def _stray_pids(self) -> list[int]:
        known = {i.pid for i in state.all_instances() if i.provider == self.name}
        pids = [int(p.name) for p in Path("/proc").iterdir() if p.name.isdigit()]
        return [pid for pid in pids if pid not in known and _is_our_nspawn(pid)]

    def leftovers(self) -> list[str]:
        found = [f"process {pid}: {' '.join(_cmdline(pid))[:80]}" for pid in self._stray_pids()]
        live = {i.name for i in state.all_instances()}
        for mount_point in _mounts_under(paths.instances_dir()):
            name = Path(mount_point).relative_to(paths.instances_dir()).parts[0]
            if name not in live:
                found.append(f"mount {mount_point}")
        if hostnet.bridge_exists() and not any(
            i.provider == self.name for i in state.all_instances()
        ):
            found.append(f"bridge {hostnet.BRIDGE}")
        return found

    def remove_leftovers(self):
        for pid in self._stray_pids():
            kids = _children(pid)
            for target in [*kids, pid]:
                try:
                    os.kill(target, signal.SIGKILL)
                except ProcessLookupError:
                    pass
        deadline = time.monotonic() + 5
        while self._stray_pids() and time.monotonic() < deadline:
            time.sleep(0.05)
        live = {i.name for i in state.all_instances()}
        for mount_point in sorted(_mounts_under(paths.instances_dir()), reverse=True):
            if Path(mount_point).relative_to(paths.instances_dir()).parts[0] not in live:
                if _run(["umount", mount_point]).returncode != 0:
                    _run(["umount", "-l", mount_point])
        if paths.instances_dir().is_dir():
            for d in paths.instances_dir().iterdir():
                if d.is_dir() and d.name not in live:
                    _delete_in_background(d)
        for d in _trash_dir().glob("*"):
            _delete_in_background(d)
        if not any(i.provider == self.name for i in state.all_instances()):
            hostnet.remove_bridge()
