"""The nspawn provider: boxes as systemd-nspawn containers. Debian boxes boot with systemd
as PID 1; the glibc 2.17 box runs its own init (svh-init: address, dropbear), no systemd.

Image: image.py. Instance: an overlay (overlay.py) over the image, booted by systemd-nspawn
on the harness bridge with a static address (network.py). Snapshots are overlay layers, so
restoring throws away an upper directory instead of copying anything.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import time
from pathlib import Path

from ... import keys, paths, progress, state
from ...catalog import Box
from ...errors import BoxTimeout
from ...runner import capture
from ...state import Instance
from ...transport import wait_for_banner
from ..base import Provider
from . import cgroups, glibc_root, image, leftovers, network, overlay, processes

# A line of a failed boot's console or journal that says why (nspawn's own are "Failed to").
TELLING = re.compile(r"\b(fail(ed|ure)?|error|cannot|refused|not found)\b", re.I)


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

    # ---- images -------------------------------------------------------------------
    def image_dir(self, box: Box, mirror: str | None = None) -> Path:
        return image.image_dir(box, mirror)

    def image_cached(self, box: Box) -> bool:
        return image.is_built(image.image_dir(box))

    def image_build(self, box: Box, force: bool = False, mirror: str | None = None) -> Path:
        self.require(box)
        return image.build(box, force, mirror)

    # ---- instances ----------------------------------------------------------------
    def new_instance(self, box: Box, name: str, image_path: Path) -> Instance:
        network.ensure_bridge()
        key_file, _ = keys.ensure_key()
        taken = {i.address for i in self.instances()}
        return Instance(
            name=name,
            box_name=box.name,
            provider=self.name,
            address=network.allocate_address(taken),
            key_file=str(key_file),
            image=str(image_path),
        )

    def start(self, box: Box, instance: Instance) -> None:
        instance.extra.pid1 = "svh-init" if image.is_glibc_root(box) else "systemd"
        instance.save()
        overlay.mount(instance)
        self._configure(instance)
        self._boot(instance, self.boot_timeout(instance))

    def _configure(self, instance: Instance) -> None:
        """Per-instance files, written into the upper layer before boot (systemd boxes; the
        glibc 2.17 box gets its address on svh-init's command line)."""
        if instance.extra.pid1 == "svh-init":
            return
        root = overlay.merged(instance)
        (root / "etc/hostname").write_text(instance.name + "\n")
        config = root / "etc/systemd/network/10-host0.network"
        config.parent.mkdir(parents=True, exist_ok=True)
        config.write_text(network.networkd_config(instance.address))

    def _boot(self, instance: Instance, timeout: float) -> None:
        argv = [
            "systemd-nspawn",
            "-q",
            "-D",
            str(overlay.merged(instance)),
            "-b",
            "--register=no",
            "--keep-unit",
            "-M",
            instance.name,
            processes.mark(),
            "--resolv-conf=off",
            "--timezone=off",
            "--link-journal=no",
            "--console=read-only",
        ]
        if instance.extra.pid1 == "svh-init":
            # No systemd: nspawn would SIGKILL PID 1 on SIGTERM; svh-init ends cleanly instead.
            argv.remove("-b")
            argv += ["--kill-signal=SIGTERM"]
            argv += glibc_root.init_argv(instance.address, network.network().prefixlen)
        with (
            progress.step(f"boot {instance.name}"),
            open(instance.dir / "console.log", "ab") as out,
        ):
            proc = subprocess.Popen(
                cgroups.wrap(instance.name, argv),
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
            instance.pid = proc.pid
            instance.save()
            self._wait_for_sshd(instance, proc, timeout)
        init = processes.container_init(instance.pid)
        veth = network.host_veth(init) if init else None
        if veth:
            instance.extra.veth = veth
            instance.save()

    def _wait_for_sshd(self, instance: Instance, proc: subprocess.Popen, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if proc.poll() is not None:
                telling, tail = self._failure_tail(instance)
                raise BoxTimeout(
                    f"box {instance.name}: systemd-nspawn exited {proc.returncode} "
                    f"during boot{telling}\n{tail}"
                )
            if wait_for_banner(
                instance.address, instance.port, min(deadline, time.monotonic() + 0.5)
            ):
                return
        telling, tail = self._failure_tail(instance)
        raise BoxTimeout(
            f"box {instance.name}: sshd at {instance.address} did not answer "
            f"within {timeout:.0f}s (raise with SVH_BOOT_TIMEOUT){telling}\n{tail}"
        )

    def _failure_tail(self, instance: Instance) -> tuple[str, str]:
        """Keep the console and journal of a box that failed to boot; their telling line
        (as ": LINE", or "") and their tail."""
        parts = []
        try:
            console = (instance.dir / "console.log").read_text(errors="replace")
            parts.append("== console ==\n" + console)
        except OSError:
            pass
        init = processes.container_init(instance.pid)
        if init:
            journal = capture(
                ["nsenter", "-t", str(init), "-a", "journalctl", "-b", "-n", "40", "--no-pager"],
                timeout=10,
            )
            parts.append("== journal ==\n" + journal.stdout + journal.stderr)
        text = "\n".join(parts)
        logs = paths.state_dir() / "logs"
        logs.mkdir(parents=True, exist_ok=True)
        kept = logs / f"{instance.name}-{time.strftime('%Y%m%d-%H%M%S')}.log"
        kept.write_text(text)
        tail = "\n".join("    " + line for line in text.splitlines()[-12:])
        telling = [line.strip() for line in text.splitlines() if TELLING.search(line)]
        return (f": {telling[0]}" if telling else ""), (
            f"  console/journal tail (full: {kept}):\n{tail}"
        )

    def is_running(self, instance: Instance) -> bool:
        return bool(instance.pid) and processes.is_ours(instance.pid)

    def lost(self, instance: Instance) -> str | None:
        if instance.pid and not self.is_running(instance):
            return f"its systemd-nspawn (PID {instance.pid}) ended"
        return None

    def halt(self, instance: Instance) -> None:
        self._stop(instance, graceful=False)

    def _stop(self, instance: Instance, graceful: bool) -> None:
        # The veth is found while the container lives: recorded at boot, or through its group.
        veth = instance.extra.veth or network.veth_of(cgroups.members(instance.name))
        processes.stop(instance.pid, graceful)
        # A container whose nspawn died runs on without it: its whole tree is in its group.
        cgroups.kill(instance.name)
        cgroups.remove(instance.name)
        network.remove_veth(veth)

    def snapshot(self, instance: Instance, snapshot: str) -> None:
        # Everything a finished command wrote is in the upper layer already: a hard stop
        # loses nothing of it, where a clean shutdown waits seconds for salt's daemons.
        self._stop(instance, graceful=False)
        overlay.umount(instance)
        overlay.save_layer(instance, snapshot)
        instance.save()
        self._restart(instance)

    def restore_to(self, instance: Instance, snapshot: str | None) -> None:
        self._stop(instance, graceful=False)
        overlay.umount(instance)
        overlay.drop_changes(instance)
        instance.layers = list(instance.snapshots[snapshot]) if snapshot else []
        instance.save()
        self._restart(instance)

    def _restart(self, instance: Instance) -> None:
        try:
            overlay.mount(instance)
            self._configure(instance)
            self._boot(instance, self.boot_timeout(instance))
        except BaseException:
            # Nothing stays running; the layers stay, so snapshots are not lost.
            self._stop(instance, graceful=False)
            overlay.umount(instance)
            raise

    def down(self, instance: Instance) -> None:
        self._stop(instance, graceful=False)
        overlay.umount(instance)
        overlay.delete(instance)
        with state.locked():
            instance.forget()
            if not self.instances():
                network.remove_bridge()
                overlay.remove_empty_scratch()
                cgroups.remove_empty_parents()

    # ---- leftovers of crashed runs ------------------------------------------------
    def _up(self) -> dict[str, str | None]:
        """The boxes that are up (every record but nspawn's dead ones), with their veths."""
        return {
            i.name: i.extra.veth
            for i in state.all_instances()
            if i.provider != self.name or self.is_running(i)
        }

    def _known_pids(self) -> set[int]:
        return {i.pid for i in self.instances()}

    def leftovers(self, only: str | None = None) -> list[str]:
        return [str(item) for item in leftovers.find(self._up(), self._known_pids(), only)]

    def remove_leftovers(self, only: str | None = None) -> list[str]:
        removed = leftovers.remove(self._up(), self._known_pids(), only)
        if only is None:
            for trash in overlay.trash_dirs():
                for d in trash.glob("*"):
                    overlay.delete_in_background(d)
        with state.locked():
            if not self.instances():
                network.remove_bridge()
                overlay.remove_empty_scratch()
                cgroups.remove_empty_parents()
        return [str(item) for item in removed]
