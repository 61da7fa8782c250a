"""`harness verify` and `harness diagnose` on the real debian12 packages (dist/debian12/)."""

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

from harness import catalog, paths, session, state
from signoff import report
from verification.packages import PackageSet

BOX = "debian12"
pytestmark = pytest.mark.xdist_group("verify")


def harness(*args: str, env: dict | None = None) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "signoff.cli", *args],
        capture_output=True,
        text=True,
        cwd=paths.REPO_ROOT,
        env=env,
    )


@pytest.fixture(scope="module")
def packages_dir():
    directory = paths.package_set_dir(BOX)
    if not (directory / "manifest.json").exists():
        pytest.fail(
            f"no packages in {directory}: build them with harness build {BOX}", pytrace=False
        )
    return directory


def test_verify_smoke_subset_passes_and_writes_the_report(packages_dir, tmp_path):
    result = harness(
        "verify", "--box", BOX, "-m", "smoke", env={**os.environ, "SVH_INSTANCE_SUFFIX": "verify"}
    )
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr
    assert "verdict: PASS" in result.stdout
    # Progress: plain lines (no terminal here), the box's phases in order, no control codes.
    lines = result.stdout.splitlines()
    assert lines[0].startswith(f"{BOX}: waiting, 0 passed, 0 failed"), lines[:3]
    said = [ln.split(",")[0] for ln in lines if ln.startswith(f"{BOX}: ")]
    phases = [p for i, p in enumerate(said) if i == 0 or p != said[i - 1]]  # heartbeats repeat
    assert phases[:4] == [f"{BOX}: {p}" for p in ("waiting", "boot", "install", "suites")]
    assert phases[-1] == f"{BOX}: done" and "\x1b" not in result.stdout
    found = re.search(r"report: (\S+)/report\.html", result.stdout)
    assert found, result.stdout[-2000:]
    report_dir = Path(found.group(1))
    assert {"report.html", "report.md", "junit.xml", "pytest.log"} <= {
        p.name for p in report_dir.iterdir()
    }
    summary = json.loads((report_dir / "summary.json").read_text())
    (box,) = summary["boxes"]
    assert (box["box"], box["verdict"], box["failed"]) == (BOX, "PASS", 0)
    assert box["fingerprint"]["release"].startswith("Debian GNU/Linux 12")
    assert box["fingerprint"]["init"] == "systemd"
    assert set(box["fingerprint"]["conflicts"]) == {
        c.package for c in catalog.load_box(BOX).conflicts
    }
    assert box["passed"] >= 10
    assert (
        box["manifest"]["salt_version"]
        == json.loads((packages_dir / "manifest.json").read_text())["salt_version"]
    )


def test_verify_without_packages_is_one_line(tmp_path):
    result = harness("verify", "--box", BOX, "--packages", str(tmp_path))
    assert result.returncode == 1
    assert result.stderr.strip() == (
        f"error: no packages in {tmp_path / BOX} (no manifest.json, no .deb or .rpm): "
        f"build them with harness build {BOX}"
    )


def test_diagnose_shows_every_conflict_isolated(packages_dir):
    name = f"diagnose-{BOX}"
    with session.box_instance(BOX, name=name) as machine:
        PackageSet.load(packages_dir, BOX).install(machine)
        result = harness("diagnose", name, env={**os.environ, "COLUMNS": "250"})
    assert result.returncode == 0, result.stderr
    modules = {c.module for c in machine.spec.conflicts}
    rows = [line for line in result.stdout.splitlines() if line.split(" ", 1)[0] in modules]
    assert len(rows) == len(modules)
    not_isolated = [line for line in rows if not line.rstrip().endswith("yes")]
    assert not not_isolated, "\n".join(not_isolated)


SHARD_CHECKS = "test_every_package_is_installed_at_the_built_version or test_venv_does_not_include"


def verify_report(*args: str, suffix: str) -> dict:
    env = {**os.environ, "SVH_INSTANCE_SUFFIX": suffix}
    result = harness("verify", "-k", SHARD_CHECKS, *args, env=env)
    found = re.search(r"report: (\S+)/report\.html", result.stdout)
    assert found, result.stdout[-2000:] + result.stderr
    return {"dir": Path(found.group(1)), "code": result.returncode}


def junit_cases(directory: Path) -> list[tuple[str, str]]:
    checks = report.read_junit(directory / "junit.xml", [BOX, "debian13"])
    return sorted((c.name, c.outcome) for c in checks)


def counts(summary: dict) -> dict:
    return {
        b["box"]: (b["verdict"], b["passed"], b["failed"], b["skipped"]) for b in summary["boxes"]
    }


def test_two_merged_shards_equal_one_run(packages_dir, tmp_path):
    boxes = f"{BOX},debian13"
    single = verify_report("--box", boxes, "-n", "2", suffix="single")
    shards = [
        verify_report("--box", boxes, "--shard", f"{k}/2", suffix=f"shard{k}") for k in (1, 2)
    ]
    merged_dir = tmp_path / "merged"
    result = harness("report", "merge", *(str(s["dir"]) for s in shards), "-o", str(merged_dir))
    assert result.returncode == single["code"] == 0, result.stdout + result.stderr
    one = json.loads((single["dir"] / "summary.json").read_text())
    merged = json.loads((merged_dir / "summary.json").read_text())
    assert merged["verdict"] == one["verdict"] == "PASS"
    assert counts(merged) == counts(one) and set(counts(one)) == {BOX, "debian13"}
    assert junit_cases(merged_dir) == junit_cases(single["dir"])
    assert (merged_dir / "boxes" / "debian13" / "fingerprint.json").exists()


def test_a_shard_past_the_boxes_and_a_box_twice_are_one_line(tmp_path):
    result = harness("verify", "--box", BOX, "--shard", "2/2")
    assert (result.returncode, result.stderr.strip()) == (
        1,
        "error: --shard 2/2 has no box: 1 box(es) selected; use at most 1 shards",
    )
    shard = tmp_path / "shard"
    shard.mkdir()
    (shard / "summary.json").write_text(json.dumps({"boxes": [{"box": BOX}], "seconds": 1}))
    result = harness("report", "merge", str(shard), str(shard), "-o", str(tmp_path / "out"))
    assert result.returncode == 1 and result.stderr.count("\n") == 1, result.stderr
    assert f"box {BOX} is in both {shard} and {shard}" in result.stderr
    result = harness("report", "merge", str(tmp_path / "nowhere"))
    assert result.returncode == 1 and "not a report directory" in result.stderr


def _interrupt_by_verify_alone(proc: subprocess.Popen) -> None:
    proc.send_signal(signal.SIGINT)  # not to its pytest, as a terminal's Ctrl-C would also do


def _interrupt_by_timeout(proc: subprocess.Popen) -> None:
    os.killpg(proc.pid, signal.SIGTERM)  # what `timeout` sends: the whole process group


def _interrupt_twice(proc: subprocess.Popen) -> None:
    proc.send_signal(signal.SIGINT)
    time.sleep(0.2)  # while the suites still remove their boxes
    proc.send_signal(signal.SIGINT)  # the impatient user: the suites are killed at once


def _processes_with(variable: str) -> list[int]:
    found = []
    for environ in Path("/proc").glob("[0-9]*/environ"):
        try:
            if variable.encode() in environ.read_bytes().split(b"\0"):
                found.append(int(environ.parent.name))
        except OSError:
            continue  # ended meanwhile
    return found


@pytest.mark.parametrize(
    "interrupt",
    [_interrupt_by_verify_alone, _interrupt_by_timeout, _interrupt_twice],
    ids=["ctrl-c-to-verify-alone", "sigterm-to-its-group", "two-ctrl-c"],
)
def test_an_interrupted_verify_leaves_no_box_and_no_process(packages_dir, interrupt):
    """However `harness verify -n 2` is stopped while a box installs, its boxes are removed
    and nothing of the run keeps running: the workers a second signal or xdist killed
    included (the run's own sweep takes their boxes down)."""
    suffix = "stopped-" + interrupt.__name__.rsplit("_", 1)[1]  # a hostname: no underscore
    env = {**os.environ, "SVH_INSTANCE_SUFFIX": suffix}
    argv = [sys.executable, "-m", "signoff.cli", "verify", "--box", BOX, "-m", "smoke", "-n", "2"]
    proc = subprocess.Popen(
        argv,
        cwd=paths.REPO_ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env=env,
        start_new_session=True,
    )
    assert proc.stdout is not None
    seen = []
    for line in proc.stdout:  # interrupted once the box is up and installing
        seen.append(line)
        if line.startswith(f"{BOX}: install"):
            break
    else:
        pytest.fail(f"no install phase; exit {proc.wait()}: {''.join(seen)}")
    interrupt(proc)
    rest = proc.communicate(timeout=300)[0]
    assert proc.returncode == 130, rest
    assert state.load(f"{BOX}-{suffix}") is None, "the box under test is still up"
    assert not [m for m in Path("/proc/mounts").read_text().split("\n") if f"{BOX}-{suffix}" in m]
    assert not _processes_with(f"SVH_INSTANCE_SUFFIX={suffix}"), "a process of the run runs on"
