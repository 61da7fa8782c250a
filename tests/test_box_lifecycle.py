"""Box lifecycle through the CLI, as a user drives it: up, reach, snapshot, restore, down,
and the leftovers of a crashed run. Runs in a harness namespace of its own (see conftest)."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

BOX = "debian12"
# One worker runs the whole module: its tests share two boxes and build on each other's state.
pytestmark = pytest.mark.xdist_group("lifecycle")


def ssh(harness_run, name: str, command: str, check: bool = True) -> str:
    return harness_run("ssh", name, "--", command, check=check).stdout


def our_nspawn_pids(bridge: str) -> list[int]:
    pids = []
    for proc in Path("/proc").iterdir():
        try:
            argv = (proc / "cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        if (
            proc.name.isdigit()
            and argv[0].endswith(b"systemd-nspawn")
            and f"--network-bridge={bridge}".encode() in argv
        ):
            pids.append(int(proc.name))
    return pids


def mounts_under(directory: Path) -> list[str]:
    return [
        line.split()[1]
        for line in Path("/proc/mounts").read_text().splitlines()
        if line.split()[1].startswith(str(directory))
    ]


def bridge_exists(bridge: str) -> bool:
    return subprocess.run(["ip", "link", "show", bridge], capture_output=True).returncode == 0


def harness_python(harness_run, code: str):
    """Run `code` with the harness's API in the test namespace; what it printed as JSON."""
    proc = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        env=harness_run.env,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout)


@pytest.fixture(scope="module")
def two_boxes(harness_run):
    alpha = harness_run("up", BOX, "--name", "alpha").stdout
    beta = harness_run("up", BOX, "--name", "beta").stdout
    return harness_run.address(alpha, "alpha"), harness_run.address(beta, "beta")


def test_two_boxes_reach_each_other_over_the_bridge(harness_run, two_boxes):
    alpha, beta = two_boxes
    probe = "exec 3<>/dev/tcp/{}/22 && head -c 4 <&3"
    assert ssh(harness_run, "alpha", probe.format(beta)) == "SSH-"
    assert ssh(harness_run, "beta", probe.format(alpha)) == "SSH-"


def test_no_box_reaches_beyond_the_bridge(harness_run, two_boxes):
    # The host's own outside address is beyond the bridge too.
    outside = (
        subprocess.run(["ip", "-4", "route", "get", "1.1.1.1"], capture_output=True, text=True)
        .stdout.split(" src ")[-1]
        .split()[0]
    )
    for target in ("1.1.1.1", outside):
        probe = harness_run(
            "ssh", "alpha", "--", f"timeout 3 bash -c 'exec 3<>/dev/tcp/{target}/22'", check=False
        )
        assert probe.returncode != 0, f"alpha reached {target}"


def layers_home(harness_run, name: str) -> Path:
    record = json.loads((harness_run.state_dir / "instances" / name / "instance.json").read_text())
    return Path(record["extra"]["layers_home"])


def test_writable_layers_live_in_memory_per_state_dir(harness_run, two_boxes):
    home = layers_home(harness_run, "alpha")
    scratch = Path("/dev/shm/salt-venv-harness")
    assert home.is_relative_to(scratch) and home.name == "alpha", home
    assert home.parent.name == str(harness_run.state_dir).strip("/").replace("/", "_")
    assert (home / "upper").is_dir()


def test_stopping_a_unit_in_one_box_leaves_the_same_unit_of_another_running(harness_run, two_boxes):
    """Each box runs in a control group of its own: units of the same name in two boxes
    (salt-master on a master box and on the box under test) are two groups, not one."""
    for name in ("alpha", "beta"):  # a daemon with a child, as salt-master has
        ssh(harness_run, name, "systemd-run -q --unit=svh-probe sh -c 'sleep 600 & sleep 601'")
    ssh(harness_run, "alpha", "systemctl stop svh-probe")
    assert ssh(harness_run, "alpha", "pgrep -a sleep", check=False) == ""
    assert ssh(harness_run, "beta", "systemctl is-active svh-probe", check=False) == "active\n"
    assert len(ssh(harness_run, "beta", "pgrep sleep", check=False).split()) == 2
    ssh(harness_run, "beta", "systemctl stop svh-probe")
    namespace = str(harness_run.state_dir).strip("/").replace("/", "_")
    if Path("/sys/fs/cgroup/systemd/cgroup.procs").exists():  # the host's view of it
        for name in ("alpha", "beta"):
            group = Path(f"/sys/fs/cgroup/systemd/salt-venv-harness/{namespace}/{name}")
            assert (group / "payload").is_dir(), group


def test_snapshot_then_restore_reverts_a_file(harness_run, two_boxes):
    ssh(harness_run, "alpha", "echo before > /root/marker")
    harness_run("snapshot", "alpha", "one")
    ssh(harness_run, "alpha", "echo after > /root/marker; touch /root/later")
    harness_run("restore", "alpha", "one")
    assert ssh(harness_run, "alpha", "cat /root/marker") == "before\n"
    assert harness_run("ssh", "alpha", "--", "test -e /root/later", check=False).returncode == 1


def test_restore_without_a_name_returns_to_pristine(harness_run, two_boxes):
    ssh(harness_run, "beta", "echo x > /root/written; apt-mark hold python3-tornado >/dev/null")
    harness_run("restore", "beta")
    assert harness_run("ssh", "beta", "--", "test -e /root/written", check=False).returncode == 1
    assert ssh(harness_run, "beta", "apt-mark showhold") == ""


def test_status_lists_the_boxes(harness_run, two_boxes):
    status = harness_run("status").stdout
    assert "alpha" in status and "beta" in status and "running" in status
    assert "one" in status  # alpha's snapshot


def test_unknown_snapshot_is_one_line(harness_run, two_boxes):
    result = harness_run("restore", "alpha", "nope", check=False)
    assert result.returncode == 1
    assert result.stderr.strip() == (
        "error: box alpha has no snapshot 'nope' (snapshots: one; harness snapshot alpha NAME)"
    )


UNTOUCHED_RESTORE = """
import json
from harness import session, state
machine = session.connect(state.load("alpha"))
session.snapshot_machine(machine, "two")
booted = machine.instance.pid
session.restore_machine(machine, "two")  # nothing ran since the snapshot booted the box
kept = machine.instance.pid == booted
machine.run("touch /root/after-two")
session.restore_machine(machine, "two")
gone = machine.run("test -e /root/after-two", check=False).exit_status == 1
print(json.dumps({"kept": kept, "rebooted": machine.instance.pid != booted, "gone": gone}))
"""


def test_a_suite_restore_of_an_untouched_box_keeps_it_and_of_a_used_one_reverts_it(
    harness_run, two_boxes
):
    # The suites restore before each step; a box that booted from that snapshot and has run
    # nothing since is that snapshot already.
    found = harness_python(harness_run, UNTOUCHED_RESTORE)
    assert found == {"kept": True, "rebooted": True, "gone": True}


BUSY_COPY = """
import json, tempfile
from harness import session, state
from harness.errors import CommandError
machine = session.connect(state.load("alpha"))
machine.run("mkdir -p /var/tmp/busy && head -c 4000000 /dev/zero > /var/tmp/busy/f")
machine.run("nohup sh -c 'while :; do echo x >> /var/tmp/busy/f; done' >/dev/null 2>&1 & "
            "echo $! > /var/tmp/busy.pid")
try:
    machine.fetch_tree("/var/tmp/busy", tempfile.mkdtemp())
    said = "copied"
except CommandError as e:
    said = str(e)
machine.run("kill $(cat /var/tmp/busy.pid)")
machine.fetch_tree("/var/tmp/busy", tempfile.mkdtemp())  # quiet again: one moment's view
print(json.dumps(said))
"""


def test_a_copy_of_a_tree_the_box_keeps_writing_says_so(harness_run, two_boxes):
    said = harness_python(harness_run, BUSY_COPY)
    assert "the box kept writing into /var/tmp/busy while it was copied" in said, said
    assert "file changed as we read it" in said, said


def test_box_that_never_answers_ssh_times_out_with_its_journal(harness_run):
    harness_run("up", BOX, "--name", "mute")
    ssh(harness_run, "mute", "systemctl mask ssh.service ssh.socket >/dev/null 2>&1")
    result = harness_run("snapshot", "mute", "masked", check=False, env={"SVH_BOOT_TIMEOUT": "5"})
    assert result.returncode == 1
    first, *tail = result.stderr.strip().splitlines()
    assert first.startswith("error: box mute: sshd at ") and "did not answer within 5s" in first
    assert "console/journal tail" in tail[0]
    assert "Traceback" not in result.stderr
    record = json.loads((harness_run.state_dir / "instances/mute/instance.json").read_text())
    assert record["pid"] not in our_nspawn_pids(harness_run.env["SVH_BRIDGE"]), "the box still runs"
    assert "dead" in harness_run("status").stdout
    harness_run("down", "mute")


def test_crashed_run_leftovers_are_found_and_removed(harness_run, two_boxes):
    bridge = harness_run.env["SVH_BRIDGE"]
    instances = harness_run.state_dir / "instances"
    homes = [layers_home(harness_run, name) for name in ("alpha", "beta")]
    # A crash: the harness process died and its records went with it.
    for name in ("alpha", "beta"):
        (instances / name / "instance.json").unlink()
    assert len(our_nspawn_pids(bridge)) == 2
    status = harness_run("status").stdout
    assert "leftovers of boxes that are not up" in status and "process" in status
    assert f"bridge {bridge}" in status
    harness_run("down", "--all")
    assert our_nspawn_pids(bridge) == []
    assert mounts_under(harness_run.state_dir) == []
    assert [h for h in homes if h.exists()] == []
    assert not bridge_exists(bridge)
    assert "no boxes up" in harness_run("status").stdout


@pytest.mark.parametrize(
    "args, expected",
    [
        (
            ["up", "debian99"],
            "error: unknown box 'debian99' (known boxes: centos5-abi, centos5-rpm, centos5, "
            "centos6-abi, centos6-rpm, centos6, centos7-abi, centos7-rpm, centos7, debian11, "
            "debian12, debian13; see `harness boxes`)",
        ),
        (
            ["up", "centos7", "--provider", "nspawn"],
            "error: box centos7 has no nspawn provider (it has: vagrant)",
        ),
        (["down"], "error: name the boxes to stop, or --all (see harness status)"),
    ],
)
def test_bad_input_is_one_line(harness_run, args, expected):
    result = harness_run(*args, check=False)
    assert (result.returncode, result.stderr.strip()) == (1, expected)


def test_ssh_to_a_box_that_is_not_up_is_one_line(harness_run):
    result = harness_run("ssh", "ghost", "--", "true", check=False)
    assert result.returncode == 1
    assert re.fullmatch(
        r"error: box ghost is not up \(up now: [a-z, ]+; start it with harness up ghost\)",
        result.stderr.strip(),
    ), result.stderr


def test_missing_tool_names_the_package(harness_run):
    result = harness_run(
        "up", BOX, "--provider", "nspawn", check=False, env={"PATH": "/nonexistent"}
    )
    assert result.returncode == 1
    assert result.stderr.strip() == (
        "error: provider nspawn cannot run debian12 here: systemd-nspawn is missing "
        "(apt-get install systemd-container, or run ./run setup)"
    )


def test_not_root_is_one_line(harness_run):
    # The real CLI with an unprivileged effective uid (modules are loaded first, as root,
    # because the checkout and venv may not be readable by nobody).
    code = (
        "import os, signoff.cli as c, harness.providers.nspawn; "
        "os.setegid(65534); os.seteuid(65534); "
        "c.main(['up', 'debian12', '--provider', 'nspawn'])"
    )
    before = set(our_nspawn_pids(harness_run.env["SVH_BRIDGE"]))
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, env=harness_run.env
    )
    assert result.returncode == 1
    assert result.stderr.strip() == (
        "error: provider nspawn cannot run debian12 here: "
        "needs root (run as root, e.g. sudo harness ...)"
    )
    assert set(our_nspawn_pids(harness_run.env["SVH_BRIDGE"])) <= before, "a box was started"


NAME_REUSED = """
import json, subprocess, sys
from harness import session
held = session.up("debian12", name="gamma")  # a run that holds its box...
cli = [sys.executable, "-m", "signoff.cli"]
for args in (["down", "gamma"], ["up", "debian12", "--name", "gamma"]):  # ...which a user replaced
    subprocess.run([*cli, *args], check=True, capture_output=True)
why = session.halt_if_lost(held)  # the run, late, finds its box gone and ends
session.down(held)
print(json.dumps(why))
"""


def test_a_run_whose_box_was_replaced_never_touches_the_box_now_of_that_name(harness_run):
    # A killed run's suites, or one whose box a user took down, end late: what they tear
    # down by name must not be a later box that took the name.
    why = harness_python(harness_run, NAME_REUSED)
    assert why == "it was taken down by another command"
    assert ssh(harness_run, "gamma", "hostname").strip() == "gamma"  # the later box answers
    harness_run("down", "gamma")
