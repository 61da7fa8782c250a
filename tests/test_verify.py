"""`harness verify` and `harness diagnose` on the real debian12 packages (dist/debian12/)."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from harness import paths, session
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
    directory = paths.DIST_DIR / BOX
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
    found = re.search(r"report: (\S+)/report\.html", result.stdout)
    assert found, result.stdout[-2000:]
    report_dir = Path(found.group(1))
    assert {"report.html", "report.md", "junit.xml", "pytest.log"} <= {
        p.name for p in report_dir.iterdir()
    }
    summary = json.loads((report_dir / "summary.json").read_text())
    (box,) = summary["boxes"]
    assert (box["box"], box["verdict"], box["failed"]) == (BOX, "PASS", 0)
    assert box["passed"] >= 10
    assert (
        box["manifest"]["salt_version"]
        == json.loads((packages_dir / "manifest.json").read_text())["salt_version"]
    )


def test_verify_without_packages_is_one_line(tmp_path):
    result = harness("verify", "--box", BOX, "--packages", str(tmp_path))
    assert result.returncode == 1
    assert result.stderr.strip() == (
        f"error: no packages in {tmp_path / BOX} (no manifest.json): "
        f"build them with harness build {BOX}"
    )


def test_diagnose_shows_every_conflict_isolated(packages_dir):
    name = f"diagnose-{BOX}"
    with session.box_instance(BOX, name=name) as machine:
        PackageSet.load(packages_dir, BOX).install(machine)
        result = harness("diagnose", name, env={**os.environ, "COLUMNS": "250"})
    assert result.returncode == 0, result.stderr
    assert machine.spec is not None
    modules = {c.module for c in machine.spec.conflicts}
    rows = [line for line in result.stdout.splitlines() if line.split(" ", 1)[0] in modules]
    assert len(rows) == len(modules)
    not_isolated = [line for line in rows if not line.rstrip().endswith("yes")]
    assert not not_isolated, "\n".join(not_isolated)
