"""A box whose systemd-nspawn dies: its container's tree, link and mounts are found by the
box's control group, listed by `harness status`, removed by `harness down`, and a later box
of the same name starts over them. Runs in a harness namespace of its own (see conftest)."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from harness.providers.nspawn import cgroups

BOX = "debian12"
pytestmark = pytest.mark.xdist_group("box-death")


def record(harness_run, name: str) -> dict:
    return json.loads((harness_run.state_dir / "instances" / name / "instance.json").read_text())


def group_pids(harness_run, name: str) -> set[int]:
    namespace = str(harness_run.state_dir).strip("/").replace("/", "_")
    pids: set[int] = set()
    for hierarchy in ("systemd", "unified"):
        group = Path("/sys/fs/cgroup", hierarchy, "salt-venv-harness", namespace, name)
        pids |= cgroups.pids_in(group)
    return pids


def alive(pid: int) -> bool:
    """Running, not a zombie (a zombie's cmdline is empty)."""
    try:
        return bool(Path(f"/proc/{pid}/cmdline").read_bytes())
    except OSError:
        return False


def kill_nspawn(harness_run, name: str) -> dict:
    """SIGKILL the box's nspawn, as a crash or the OOM killer would; its container lives on."""
    data = record(harness_run, name)
    os.kill(data["pid"], signal.SIGKILL)
    deadline = time.monotonic() + 5
    while alive(data["pid"]) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert len(group_pids(harness_run, name)) > 3, "the container did not outlive its nspawn"
    return data


def links(harness_run) -> list[str]:
    brif = Path("/sys/class/net", harness_run.env["SVH_BRIDGE"], "brif")
    return sorted(p.name for p in brif.iterdir()) if brif.is_dir() else []


def test_status_lists_a_dead_box_tree_and_down_all_removes_it(harness_run):
    harness_run("up", BOX, "--name", "d1")
    data = kill_nspawn(harness_run, "d1")
    status = harness_run("status").stdout
    assert "dead" in status
    processes = re.findall(r"^  process \d+: .*\(box d1\)$", status, re.M)
    assert len(processes) == len(group_pids(harness_run, "d1")), status
    assert f"link {data['extra']['veth']} (box d1)" in status
    assert "mount " in status and "(box d1)" in status
    result = harness_run("down", "--all")
    assert result.stdout.splitlines()[0] == "boxes down: d1"
    assert result.stdout.rstrip().endswith("no leftovers remain")
    assert group_pids(harness_run, "d1") == set() and links(harness_run) == []
    assert harness_run("status").stdout.strip() == "no boxes up"


def test_down_box_removes_what_a_dead_box_left_without_its_record(harness_run):
    harness_run("up", BOX, "--name", "d2")
    kill_nspawn(harness_run, "d2")
    (harness_run.state_dir / "instances/d2/instance.json").unlink()  # as a crashed run leaves
    assert "(box d2)" in harness_run("status").stdout
    result = harness_run("down", "d2")
    assert result.stdout.startswith("d2: down; removed what it left: ")
    assert group_pids(harness_run, "d2") == set() and links(harness_run) == []
    assert not (harness_run.state_dir / "instances/d2").exists()
    assert harness_run("status").stdout.strip() == "no boxes up"


def test_up_over_a_dead_namesake_no_run_owns_cleans_it_first(harness_run):
    harness_run("up", BOX, "--name", "d3")
    kill_nspawn(harness_run, "d3")
    harness_run("up", BOX, "--name", "d3")  # its owner, `harness up`, is long gone
    assert harness_run("ssh", "d3", "--", "hostname").stdout == "d3\n"
    harness_run("down", "d3")
    assert group_pids(harness_run, "d3") == set()


OWNER = """
import sys
from harness import session
session.up("debian12", name="d4")
print("up", flush=True)
sys.stdin.read()  # holds the box as a run would, until told to go
"""


def test_up_over_a_dead_box_a_live_run_owns_is_refused_in_one_line(harness_run):
    owner = subprocess.Popen(
        [sys.executable, "-c", OWNER],
        env=harness_run.env,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert owner.stdout is not None and owner.stdout.readline() == "up\n"
        kill_nspawn(harness_run, "d4")
        result = harness_run("up", BOX, "--name", "d4", check=False)
        assert result.returncode == 1
        assert re.fullmatch(
            rf"error: box d4 cannot start: a dead box of that name, still owned by running "
            rf"process {owner.pid}, left \d+ things \(process \d+: .*\); harness down d4 "
            r"removes them",
            result.stderr.strip(),
        ), result.stderr
        harness_run("down", "d4")
        assert group_pids(harness_run, "d4") == set()
    finally:
        owner.communicate("", timeout=30)


def test_a_boot_that_fails_names_its_telling_line(harness_run):
    # A link of the name nspawn gives the box's veth: the boot cannot add its own.
    subprocess.run(
        ["ip", "link", "add", "vb-d5", "type", "veth", "peer", "name", "vb-d5-peer"], check=True
    )
    try:
        result = harness_run("up", BOX, "--name", "d5", check=False)
    finally:
        subprocess.run(["ip", "link", "del", "vb-d5"], check=False)
    assert result.returncode == 1
    first = result.stderr.splitlines()[0]
    assert first == (
        "error: box d5: systemd-nspawn exited 1 during boot: "
        "Failed to add new veth interfaces (vb-d5:host0): File exists"
    ), result.stderr
    assert harness_run("status").stdout.strip() == "no boxes up"


SSHD_DIES_IN_A_COPY = """
import json, tempfile
from harness import session
from harness.errors import SessionLost
machine = session.connect(session.up("debian12", name="d6"))
# A copy that waits on a FIFO until every sshd of the box is killed under it.
machine.run("mkfifo /run/never")
machine.run("setsid -f sh -c 'sleep 2; pkill -KILL -x sshd' </dev/null >/dev/null 2>&1")
try:
    machine.fetch("/run/never", tempfile.mktemp())
    said = "copied"
except SessionLost as e:
    said = str(e)
session.down(machine.instance)
print(json.dumps(said))
"""


def test_a_bulk_copy_whose_sshd_dies_says_the_session_dropped(harness_run):
    # Bulk copies go through the OpenSSH client, whose exit 255 is its own failure.
    done = subprocess.run(
        [sys.executable, "-c", SSHD_DIES_IN_A_COPY],
        env=harness_run.env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr
    said = json.loads(done.stdout)
    assert said.startswith(
        "box d6: SSH session dropped while running `copy /run/never <- box` (sshd in the box "
        "ended or restarted, or the box died: "
    ), said
