"""The EL SysV stand-ins of the glibc boxes (harness/providers/nspawn/sysv_root.py), driving
our packages' real init script template (builds/rpm/salt-daemon.init) in a busybox root:
the exit codes an admin and the suites rely on, without starting a box."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from harness.providers.nspawn import sysv_root

REPO = Path(__file__).resolve().parent.parent
BUSYBOX = Path("/bin/busybox")
DAEMON = "salt-fake"
# Stands for a Salt daemon: -d forks a child in a session of its own that writes its pid
# file, as salt's -d does, and that child has a "job" of its own (sleep 601).
FAKE_DAEMON = f"""#!/bin/sh
[ "$1" = -d ] || exit 64
setsid sh -c 'sleep 601 & echo $$ > /var/run/{DAEMON}.pid; exec sleep 600' \\
    </dev/null >/dev/null 2>&1 &
sleep 0.2
"""


@pytest.fixture
def root(tmp_path) -> Path:
    if not BUSYBOX.is_file():
        pytest.skip("the host has no busybox-static (./run setup installs it)")
    root = tmp_path / "root"
    for path in ("bin", "usr/bin", "usr/sbin", "var/run", "var/lock/subsys", "proc", "dev"):
        (root / path).mkdir(parents=True, exist_ok=True)
    shutil.copy2(BUSYBOX, root / "bin/busybox")
    applets = ("sh", "cat", "echo", "sleep", "kill", "rm", "ls", "ln", "sed", "head", "cut")
    for applet in (*applets, "setsid", "ps", "grep"):
        (root / "bin" / applet).symlink_to("busybox")
    for applet in ("env", "wc", "tr", "printf", "touch", "test", "["):
        (root / "usr/bin" / applet).symlink_to("../../bin/busybox")
    for path, mode in sysv_root.dirs().items():
        (root / path).mkdir(parents=True, exist_ok=True)
        (root / path).chmod(mode)
    for path, target in sysv_root.symlinks().items():
        (root / path).symlink_to(target)
    for path, (mode, text) in sysv_root.files().items():
        (root / path).parent.mkdir(parents=True, exist_ok=True)
        (root / path).write_text(text)
        (root / path).chmod(mode)
    template = (REPO / "builds/rpm/salt-daemon.init").read_text()
    script = template.replace("@DAEMON@", DAEMON).replace("@SUMMARY@", "A fake daemon")
    (root / f"etc/rc.d/init.d/{DAEMON}").write_text(script)
    (root / f"etc/rc.d/init.d/{DAEMON}").chmod(0o755)
    (root / f"usr/bin/{DAEMON}").write_text(FAKE_DAEMON)
    (root / f"usr/bin/{DAEMON}").chmod(0o755)
    return root


def run(root: Path, script: str) -> subprocess.CompletedProcess:
    """`script` in the root, with a /proc of its own pid namespace (the helpers read it) and
    the host's /dev, in a mount namespace that ends with it."""
    argv = ["unshare", "--mount", "--pid", "--fork", f"--mount-proc={root}/proc"]
    inner = 'mount --bind /dev "$0/dev" && exec chroot "$0" /bin/sh -c "$1"'
    argv += ["sh", "-c", inner, str(root), script]
    return subprocess.run(argv, capture_output=True, text=True, timeout=60)


def test_the_script_gives_lsb_exit_codes_through_a_whole_cycle(root):
    script = f"/etc/init.d/{DAEMON}"
    steps = [
        ("status", 3),
        ("stop", 0),  # stopping a stopped service succeeds
        ("start", 0),
        ("status", 0),
        ("start", 0),  # starting a running one too
        ("restart", 0),
        ("status", 0),
        ("stop", 0),
        ("status", 3),
        ("reload", 3),
        ("bogus", 2),
    ]
    body = "; ".join(f'{script} {action} >/dev/null; echo "{action} $?"' for action, _ in steps)
    body += "; ps -o args | grep -c '^sleep 60[01]'"  # the daemon and its job: none left
    result = run(root, body)
    assert result.stdout.split("\n")[:-1] == [f"{a} {code}" for a, code in steps] + ["0"], result
    # stop left no pid file and no subsys lock
    assert not (root / f"var/run/{DAEMON}.pid").exists()
    assert not (root / f"var/lock/subsys/{DAEMON}").exists()


def test_status_tells_a_dead_daemon_from_a_stopped_one(root):
    script = f"/etc/init.d/{DAEMON}"
    body = (
        f"echo 999999 > /var/run/{DAEMON}.pid; {script} status; echo rc=$?; "
        f"rm /var/run/{DAEMON}.pid; touch /var/lock/subsys/{DAEMON}; {script} status; echo rc=$?"
    )
    out = run(root, body).stdout
    assert f"{DAEMON} dead but pid file exists\nrc=1" in out, out
    assert f"{DAEMON} dead but subsys locked\nrc=2" in out, out


def test_chkconfig_and_service_as_on_el6(root):
    body = (
        f"chkconfig --add {DAEMON}; chkconfig --list {DAEMON}; chkconfig {DAEMON}; echo rc=$?; "
        f"chkconfig {DAEMON} on; chkconfig --list {DAEMON}; chkconfig {DAEMON}; echo rc=$?; "
        f"ls /etc/rc.d/rc3.d /etc/rc.d/rc0.d; "
        f"service {DAEMON} start >/dev/null; service {DAEMON} status; echo rc=$?; "
        f"service {DAEMON} stop >/dev/null; echo rc=$?; chkconfig --del {DAEMON}; "
        f"chkconfig --list {DAEMON}; echo rc=$?; service nothing-here start; echo rc=$?"
    )
    out = run(root, body).stdout.replace("\t", " ")
    off = f"{DAEMON}       0:off 1:off 2:off 3:off 4:off 5:off 6:off"
    on = f"{DAEMON}       0:off 1:off 2:on 3:on 4:on 5:on 6:off"
    expected = [off, "rc=1", on, "rc=0"]
    assert out.split("\n")[:4] == expected, out
    assert f"S99{DAEMON}" in out and f"K01{DAEMON}" in out, out  # the header's priorities
    assert "is running...\nrc=0\nrc=0\n" in out, out
    assert out.endswith("rc=1\nrc=1\n"), out  # not referenced after --del; unknown service


# A daemon whose -d returns before its pid file is written, as salt's does (half a second
# here; salt's imports take longer on a busy box).
LATE_DAEMON = f"""#!/bin/sh
[ "$1" = -d ] || exit 64
setsid sh -c 'sleep 0.5; echo $$ > /var/run/{DAEMON}.pid; exec sleep 600' \\
    </dev/null >/dev/null 2>&1 &
"""


def test_the_init_scripts_start_returns_once_the_daemon_has_written_its_pid_file(root):
    """So that a status or a stop right after a start sees the daemon: an admin's, and the
    boot's rc followed by the admin's (what the lifecycle met on centos6-rpm)."""
    (root / f"usr/bin/{DAEMON}").write_text(LATE_DAEMON)
    script = f"/etc/init.d/{DAEMON}"
    steps = ("start", "status", "stop", "status")
    body = "; ".join(f'{script} {action} >/dev/null; echo "{action} $?"' for action in steps)
    result = run(root, body)
    assert result.stdout.splitlines() == ["start 0", "status 0", "stop 0", "status 3"], result
