"""libvirtd and virtlogd for vagrant-libvirt, on hosts where no init system starts them.

Hosts without systemd as PID 1 (containers, CI machines) have the daemons installed but not
running. The harness starts the ones that are missing, remembers their PIDs in its state
dir, and stops exactly those (by PID) once its last VM is gone. Daemons that were already
running are never touched.
"""

from __future__ import annotations

import grp
import json
import os
import shutil
import signal
import stat
import time
from pathlib import Path

from ... import paths, settings, state
from ...errors import HarnessError
from ...runner import capture

# (daemon, pid file it writes when started with -d)
DAEMONS = (("virtlogd", "/run/virtlogd.pid"), ("libvirtd", "/run/libvirtd.pid"))
URI = "qemu:///system"
KVM_DEVICE = Path("/dev/kvm")


def give_kvm_to_its_group(device: Path = KVM_DEVICE) -> None:
    """/dev/kvm as Debian's udev rule leaves it, root:kvm 0660, where no udev ran and it is
    root's alone. libvirt probes qemu as root (KVM answers there) but holds the answer valid
    only while its qemu user may open the device: without this it probes qemu again for
    every question, 4 s each and about 100 s of each `vagrant up` (bench/RESULTS.md). The
    domain type stays the harness's choice (host.libvirt_driver)."""
    try:
        found = device.stat()
        kvm = grp.getgrnam("kvm").gr_gid
    except (FileNotFoundError, KeyError):
        return
    if (found.st_uid, found.st_gid, stat.S_IMODE(found.st_mode)) == (0, 0, 0o600):
        os.chown(device, 0, kvm)
        os.chmod(device, 0o660)


def _record() -> Path:
    # Host-wide and in /run: PIDs mean nothing after a reboot, and runs with different
    # state dirs share one libvirtd.
    run_dir = settings.current().path("SVH_RUN_DIR", "/run/salt-venv-harness")
    return run_dir / "libvirt-daemons.json"


def _lock():
    return state.locked(_record().with_name(".libvirt.lock"))


def _comm(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/comm").read_text().strip()
    except OSError:
        return ""


def running_pid(daemon: str) -> int | None:
    """PID of a running `daemon`, from its pid file or, failing that, /proc."""
    pid_file = dict(DAEMONS)[daemon]
    try:
        pid = int(Path(pid_file).read_text().split()[0])
        if _comm(pid) == daemon:
            return pid
    except (OSError, ValueError, IndexError):
        pass
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit() and _comm(int(entry.name)) == daemon:
            return int(entry.name)
    return None


def started_by_us() -> dict[str, int]:
    """Daemons the harness started that still run, by name."""
    try:
        recorded = json.loads(_record().read_text())
    except (OSError, ValueError):
        return {}
    return {
        name: pid for name, pid in recorded.items() if name in dict(DAEMONS) and _comm(pid) == name
    }


def owned_here() -> bool:
    return _owner() in (None, str(paths.state_dir()))


def _owner() -> str | None:
    """The state dir of the run that started the daemons: only its boxes decide when they stop
    (a `down --all` in another state dir, e.g. a test's, must not pull libvirtd away)."""
    try:
        return json.loads(_record().read_text()).get("owner")
    except (OSError, ValueError):
        return None


def virsh(*args: str) -> str:
    done = capture(["virsh", "-c", URI, *args], timeout=60)
    return done.stdout if done.returncode == 0 else ""


def _answers(within: float) -> bool:
    """Whether libvirtd answers `virsh version` within `within` seconds. A fresh libvirtd
    probes QEMU's capabilities before it answers its first client, which on a loaded host
    takes longer than one call's patience: a call that times out is "not yet", not an error."""
    try:
        done = capture(["virsh", "-c", URI, "version"], timeout=max(within, 1.0))
    except HarnessError:
        return False
    return done.returncode == 0


def ensure_running(timeout: float = 180.0):
    """Start virtlogd and libvirtd unless they run; wait until libvirtd answers."""
    with _lock():
        if running_pid("libvirtd") is None:
            give_kvm_to_its_group()
        ours = started_by_us()
        for daemon, _ in DAEMONS:
            if running_pid(daemon):
                continue
            exe = shutil.which(daemon) or f"/usr/sbin/{daemon}"
            if not os.path.exists(exe):
                raise HarnessError(
                    f"{daemon} is not installed (./run setup vagrant, or apt-get "
                    "install libvirt-daemon libvirt-daemon-driver-qemu)"
                )
            # Normally made by the init system's units or libvirt-daemon-system.
            for d in ("/run/libvirt", "/var/log/libvirt/qemu", "/var/lib/libvirt/qemu"):
                Path(d).mkdir(parents=True, exist_ok=True)
            done = capture([exe, "-d"])
            pid = None
            deadline = time.monotonic() + timeout
            while time.monotonic() < deadline and pid is None:
                pid = running_pid(daemon)
                time.sleep(0.1)
            if done.returncode != 0 or pid is None:
                raise HarnessError(
                    f"could not start {daemon} (exit {done.returncode}: "
                    f"{(done.stderr or done.stdout).strip()[:200]})"
                )
            ours[daemon] = pid
            _record().parent.mkdir(parents=True, exist_ok=True)
            _record().write_text(json.dumps({**ours, "owner": str(paths.state_dir())}))
        deadline = time.monotonic() + timeout
        while not _answers(deadline - time.monotonic()):
            if running_pid("libvirtd") is None:
                raise HarnessError(
                    "libvirtd exited right after starting (see "
                    "/var/log/libvirt/libvirtd.log; ./run setup vagrant installs "
                    "what it needs)"
                )
            if time.monotonic() > deadline:
                raise HarnessError(
                    f"libvirtd does not answer on {URI} within {timeout:.0f}s "
                    "(check `virsh -c qemu:///system version`)"
                )
            time.sleep(0.2)


def stop_ours(timeout: float = 15.0):
    """Stop the daemons the harness started (libvirtd first: it logs through virtlogd), unless
    a VM still runs (another run's, with its own state dir): the last one out stops them."""
    with _lock():
        ours = started_by_us()
        if not owned_here():
            return
        if "libvirtd" in ours and virsh("list", "--name").split():
            return
        if "libvirtd" in ours:
            # Networks keep their dnsmasq running after libvirtd exits: stop the ones our
            # libvirtd started (autostarted or made by vagrant-libvirt). Definitions stay.
            for network in virsh("net-list", "--name").split():
                virsh("net-destroy", network)
        for daemon in ("libvirtd", "virtlogd"):
            pid = ours.get(daemon)
            if not pid:
                continue
            os.kill(pid, signal.SIGTERM)
            deadline = time.monotonic() + timeout
            while _comm(pid) == daemon and time.monotonic() < deadline:
                time.sleep(0.05)
            if _comm(pid) == daemon:
                os.kill(pid, signal.SIGKILL)
        _record().unlink(missing_ok=True)
