"""The vagrant provider: the Vagrantfile for every catalog entry, what it says when it
cannot run, and a real VM's lifecycle (libvirt, qemu) through the CLI."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

from harness import catalog
from harness.providers.vagrant import VagrantProvider, host, libvirt_daemons, project
from harness.providers.vagrant.host import kvm_usable, libvirt_driver, vagrant_env
from harness.providers.vagrant.project import management_address, management_network
from harness.state import Instance, ProviderDetails

needs_vagrant = pytest.mark.skipif(
    shutil.which("vagrant") is None, reason="vagrant is not installed (./run setup vagrant)"
)
VAGRANT_BOXES = [b for b in catalog.load_catalog().values() if b.providers.vagrant]
# One worker runs the VM tests: they share one VM and one libvirtd.
pytestmark = pytest.mark.xdist_group("vagrant")


def write_project(tmp_path: Path, box, hypervisor: str, offline: bool = False) -> Path:
    """A Vagrant project for `box` as `harness up` writes it, in a throwaway state dir."""
    instance = Instance(
        name=f"vg-validate-{box.name}",
        box_name=box.name,
        provider="vagrant",
        user="vagrant",
        image=str(tmp_path / "image"),
        extra=ProviderDetails(hypervisor=hypervisor, domain=f"svh-vg-validate-{box.name}"),
    )
    if offline:
        instance.extra.vagrant_box = f"salt-venv-harness/{box.name}-0000000000000000"
    project.write(box, instance, timeout=60)
    return instance.dir


def validate(project: Path) -> subprocess.CompletedProcess:
    return subprocess.run(
        ["vagrant", "validate"],
        cwd=project,
        env=vagrant_env(),
        capture_output=True,
        text=True,
        timeout=120,
    )


@needs_vagrant
@pytest.mark.parametrize("hypervisor", ["virtualbox", "libvirt"])
@pytest.mark.parametrize("entry", VAGRANT_BOXES, ids=[b.name for b in VAGRANT_BOXES])
def test_the_vagrantfile_validates_for_every_catalog_entry(
    tmp_path, monkeypatch, entry, hypervisor
):
    box = entry
    if hypervisor not in box.providers.vagrant.hypervisors:
        pytest.skip(f"{box.name} does not run on {hypervisor} (catalog)")
    with monkeypatch.context() as env:  # the body only: see test_catalog.py
        env.setenv("SVH_STATE_DIR", str(tmp_path))
        project = write_project(tmp_path, box, hypervisor)
        done = validate(project)
        assert done.returncode == 0, f"vagrant validate for {box.name}:\n{done.stdout}{done.stderr}"
        machine = (project / "machine.json").read_text()
        assert box.providers.vagrant.box in machine


@needs_vagrant
def test_the_vagrantfile_validates_the_offline_libvirt_box(tmp_path, monkeypatch):
    with monkeypatch.context() as env:  # the body only: see test_catalog.py
        env.setenv("SVH_STATE_DIR", str(tmp_path))
        box = catalog.load_box("debian12")
        project = write_project(tmp_path, box, "libvirt", offline=True)
        done = validate(project)
        assert done.returncode == 0, done.stdout + done.stderr
        assert '"kernel"' in (project / "machine.json").read_text()


@needs_vagrant
def test_a_bad_hypervisor_option_in_the_catalog_fails_validation(tmp_path, monkeypatch):
    """The check above can fail: an option the provider does not know is an error."""
    with monkeypatch.context() as env:  # the body only: see test_catalog.py
        env.setenv("SVH_STATE_DIR", str(tmp_path))
        box = catalog.load_box("centos7")
        assert box.providers.vagrant is not None
        settings = box.providers.vagrant.model_copy(update={"libvirt": {"no_such_option": 1}})
        bad = box.model_copy(
            update={"providers": box.providers.model_copy(update={"vagrant": settings})}
        )
        done = validate(write_project(tmp_path, bad, "libvirt"))
        assert done.returncode != 0
        assert "no_such_option" in done.stdout + done.stderr


def test_kvm_that_cannot_run_a_stock_kernel_means_qemu_emulation():
    pvm = Path("/sys/module/kvm_pvm").exists()
    if pvm:
        assert not kvm_usable()
    expected = "kvm" if kvm_usable() else "qemu"
    assert libvirt_driver() == (os.environ.get("SVH_LIBVIRT_DRIVER") or expected)


# ---- bad input: one line each, naming what to install or which provider to use ------------
def harness(*args, env=None) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "signoff.cli", *args],
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, "COLUMNS": "300", **(env or {})},
    )


def one_line_error(done: subprocess.CompletedProcess) -> str:
    assert done.returncode == 1, done.stdout + done.stderr
    lines = [ln for ln in done.stderr.splitlines() if ln.strip()]
    assert len(lines) == 1 and "Traceback" not in done.stderr, done.stderr
    return lines[0]


def test_kvm_left_to_root_alone_is_given_to_its_group_as_udev_would(tmp_path):
    import grp
    import stat

    kvm = grp.getgrnam("kvm").gr_gid
    bare, other = tmp_path / "kvm", tmp_path / "kvm-set"
    for device, mode in ((bare, 0o600), (other, 0o640)):
        device.touch()
        os.chown(device, 0, 0)
        device.chmod(mode)
    libvirt_daemons.give_kvm_to_its_group(bare)
    libvirt_daemons.give_kvm_to_its_group(other)  # an admin's own choice stays
    libvirt_daemons.give_kvm_to_its_group(tmp_path / "absent")
    found = {d: (d.stat().st_gid, stat.S_IMODE(d.stat().st_mode)) for d in (bare, other)}
    assert found == {bare: (kvm, 0o660), other: (0, 0o640)}


def test_vagrant_missing_names_what_to_install(tmp_path):
    # A PATH without vagrant (the harness itself runs from the venv's python).
    line = one_line_error(
        harness(
            "up",
            "debian12",
            "--provider",
            "vagrant",
            "--name",
            "vg-x",
            env={"PATH": str(tmp_path), "SVH_STATE_DIR": str(tmp_path)},
        )
    )
    assert "vagrant is not installed" in line and "apt-get install vagrant" in line


@needs_vagrant
def test_libvirt_plugin_missing_names_the_package(tmp_path):
    # Debian's Vagrant finds system plugins in /usr/share/vagrant-plugins: hide it in a mount
    # namespace of this command only, and Vagrant is one without vagrant-libvirt.
    empty = tmp_path / "no-plugins"
    empty.mkdir()
    command = (
        f"mount --bind {empty} /usr/share/vagrant-plugins && exec {sys.executable} "
        f"-m signoff.cli image build debian12 --provider vagrant"
    )
    done = subprocess.run(
        ["unshare", "-m", "sh", "-c", command],
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, "SVH_STATE_DIR": str(tmp_path)},
    )
    line = one_line_error(done)
    assert "vagrant-libvirt plugin is missing" in line and "apt-get install vagrant-libvirt" in line


@needs_vagrant
def test_a_box_that_needs_the_public_registry_says_where_to_run_it(tmp_path):
    provider = VagrantProvider()
    box = catalog.load_box("centos7")
    if provider.hypervisor(box) is None or provider.image_cached(box):
        pytest.skip("centos7 has no hypervisor here or its public box is already added")
    done = harness(
        "up",
        "centos7",
        "--provider",
        "vagrant",
        "--name",
        "vg-centos7",
        env={"SVH_STATE_DIR": str(tmp_path)},
    )
    line = one_line_error(done)
    if "registry" not in line:
        pytest.skip(f"the Vagrant registry is reachable from here: {line}")
    assert "centos/7" in line and "workstation with VirtualBox or libvirt" in line


@needs_vagrant
def test_no_usable_hypervisor_names_what_to_install(tmp_path):
    line = one_line_error(
        harness(
            "up",
            "centos5",
            "--provider",
            "vagrant",
            "--name",
            "vg-centos5",
            env={"SVH_STATE_DIR": str(tmp_path), "SVH_VAGRANT_HYPERVISOR": "none"},
        )
    )
    assert "no hypervisor for centos5" in line and "VirtualBox" in line


def test_a_libvirtd_slow_to_answer_is_waited_for_not_an_error(tmp_path, monkeypatch):
    # A fresh libvirtd probes QEMU before its first answer; on a loaded host one `virsh
    # version` outlasts its call. That call counts as "not yet": the wait goes on.
    slow = tmp_path / "virsh"
    slow.write_text("#!/bin/sh\nexec sleep 5\n")
    slow.chmod(0o755)
    monkeypatch.setenv("PATH", f"{tmp_path}:{os.environ['PATH']}")
    started = time.monotonic()
    assert libvirt_daemons._answers(1.0) is False
    assert time.monotonic() - started < 4


# ---- a real VM: up, ssh, snapshot/restore, down, nothing left behind -------------------------
def virsh(*args: str) -> str:
    return subprocess.run(
        ["virsh", "-c", libvirt_daemons.URI, *args], capture_output=True, text=True, timeout=60
    ).stdout


@pytest.fixture(scope="module")
def vm(harness_run):
    provider = VagrantProvider()
    box = catalog.load_box("debian12")
    reason = provider.unavailable_reason(box)
    if reason:
        pytest.skip(f"vagrant cannot run debian12 here: {reason}")
    daemons_before = {d for d, _ in libvirt_daemons.DAEMONS if libvirt_daemons.running_pid(d)}
    harness_run("image", "build", "debian12", "--provider", "vagrant", timeout=1800)
    up = harness_run("up", "debian12", "--provider", "vagrant", "--name", "vg-test", timeout=1200)
    yield harness_run.address(up.stdout, "vg-test"), daemons_before
    harness_run("down", "vg-test", check=False, timeout=600)


def ssh(harness_run, command: str, check: bool = True):
    return harness_run("ssh", "vg-test", "--", command, check=check, timeout=300)


@pytest.mark.slow
@needs_vagrant
def test_the_vm_answers_as_root_through_sudo_with_systemd_as_pid_1(harness_run, vm):
    out = ssh(harness_run, "id -u; cat /proc/1/comm; hostname; uname -r").stdout.split()
    assert out[:3] == ["0", "systemd", "vg-test"]
    assert ssh(harness_run, "exit 7", check=False).returncode == 7
    # A real kernel of its own (not the host's), from the box's release.
    assert out[3] != os.uname().release


@pytest.mark.slow
@needs_vagrant
def test_the_vm_has_the_catalog_conflict_packages(harness_run, vm):
    box = catalog.load_box("debian12")
    versions = ssh(
        harness_run,
        "dpkg-query -W -f '${Package} ${Version}\\n' " + " ".join(c.package for c in box.conflicts),
    ).stdout
    for c in box.conflicts:
        assert f"{c.package} {c.version}" in versions


@pytest.mark.slow
@needs_vagrant
def test_the_vm_reaches_nothing_beyond_its_network(harness_run, vm):
    # The management network is isolated: no default route, while the host's end of it
    # (dnsmasq's DNS on the network's first address) answers, so the probe itself works.
    assert ssh(harness_run, "ip -4 route show default").stdout.strip() == ""
    gateway = management_address().rsplit(".", 1)[0] + ".1"
    probe = "timeout 10 bash -c 'exec 3<>/dev/tcp/{}/{}' && echo reached"
    assert "reached" in ssh(harness_run, probe.format(gateway, 53), check=False).stdout
    outside = (
        subprocess.run(
            ["ip", "-4", "-o", "route", "get", "1.1.1.1"], capture_output=True, text=True
        )
        .stdout.split("src ")[1]
        .split()[0]
    )
    assert "reached" not in ssh(harness_run, probe.format(outside, 53), check=False).stdout


@pytest.mark.slow
@needs_vagrant
def test_snapshot_and_restore_revert_the_vm(harness_run, vm):
    ssh(harness_run, "echo one > /root/marker")
    harness_run("snapshot", "vg-test", "one", timeout=300)
    ssh(harness_run, "echo two > /root/marker; touch /root/later")
    harness_run("restore", "vg-test", "one", timeout=300)
    assert ssh(harness_run, "cat /root/marker").stdout.strip() == "one"
    assert ssh(harness_run, "test -e /root/later", check=False).returncode == 1
    harness_run("restore", "vg-test", timeout=300)  # pristine
    assert ssh(harness_run, "test -e /root/marker", check=False).returncode == 1


@pytest.mark.slow
@needs_vagrant
def test_down_leaves_no_domain_volume_network_or_daemon(harness_run, vm):
    _, daemons_before = vm
    status = harness_run("status").stdout
    assert "vg-test" in status and "running" in status
    harness_run("down", "vg-test", timeout=600)
    assert_no_trace_of("vg-test", harness_run.state_dir)
    for daemon, _ in libvirt_daemons.DAEMONS:
        if daemon not in daemons_before and not _other_vms_running():
            assert libvirt_daemons.running_pid(daemon) is None, f"{daemon} still runs"
    if not _other_vms_running():
        assert not _dnsmasq_of(management_network())
    assert not (harness_run.state_dir / "instances" / "vg-test").exists()


def assert_no_trace_of(name: str, state_dir: Path):
    """Read from disk and /proc, so it holds whether or not libvirtd still runs."""
    domain = f"svh-{name}"
    assert not Path(f"/etc/libvirt/qemu/{domain}.xml").exists(), "domain still defined"
    assert not Path(f"/var/lib/libvirt/images/{domain}.img").exists(), "volume still there"
    assert not any(f"guest={domain},".encode() in argv for argv in _cmdlines()), "qemu still runs"
    assert not (state_dir / "instances" / name).exists(), "instance record still there"


def _cmdlines() -> list[bytes]:
    found = []
    for proc in Path("/proc").iterdir():
        if proc.name.isdigit():
            try:
                found.append((proc / "cmdline").read_bytes())
            except OSError:
                pass
    return found


def _other_vms_running() -> bool:
    return bool(libvirt_daemons.running_pid("libvirtd") and virsh("list", "--name").split())


def _dnsmasq_of(network: str) -> list[bytes]:
    return [
        argv for argv in _cmdlines() if b"dnsmasq" in argv and f"/{network}.conf".encode() in argv
    ]


def test_vagrant_calls_keep_their_output_in_the_box_log(tmp_path):
    """python-vagrant's out_cm/err_cm: a failing call's output is in the log the error names."""
    if shutil.which("vagrant") is None:
        pytest.skip("vagrant is not installed (./run setup vagrant)")
    log = tmp_path / "vagrant.log"
    (tmp_path / "Vagrantfile").write_text('raise "broken on purpose"\n')
    v = host.client(tmp_path, log)
    with pytest.raises(Exception) as failure, host.checked("status", log):
        v.status()
    assert str(log) in str(failure.value)
    assert "broken on purpose" in log.read_text()


@pytest.mark.slow
@needs_vagrant
def test_ctrl_c_during_up_leaves_nothing_behind(harness_run, vm):
    """Ctrl-C reaches the harness and Vagrant (one process group) while the VM boots."""
    import signal
    import time

    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "signoff.cli",
            "up",
            "debian12",
            "--provider",
            "vagrant",
            "--name",
            "vg-int",
        ],
        env=harness_run.env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )
    deadline = time.monotonic() + 900
    while "svh-vg-int" not in virsh("list", "--name") and proc.poll() is None:
        assert time.monotonic() < deadline, "the domain of vg-int never started"
        time.sleep(1)
    os.killpg(proc.pid, signal.SIGINT)
    _, err = proc.communicate(timeout=600)
    assert proc.returncode == 130, err
    assert_no_trace_of("vg-int", harness_run.state_dir)
