"""The verifier is verified: the suites fail on every deliberately broken package set of
the build module, and the failing checks name the defect's class.

Each defect variant is built (dist/debian12-defect-NAME/, reused when present) and the
install, isolation and minion suites run against it in a pytest of their own; the catch
table (defect -> failing checks) is printed at the end of the run.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from harness import paths
from signoff import report

BOX = "debian12"
# The check whose failure names each defect's class.
CAUGHT_BY = {
    "system-site-packages": "test_venv_does_not_include_system_site_packages",
    "buildroot-paths": "test_no_build_root_paths_in_the_payload",
    "ld-export": "test_nothing_is_exported_to_the_system",
    "wrapper-pythonpath": "test_wrappers_keep_sys_path_inside_opt_salt",
    "missing-dep": f"test_opt_salt_imports_its_own_copy_at_the_locked_version[{BOX}-msgpack]",
    "unit-path": "test_minion_service_is_enabled_and_running",
    "conffile": "test_minion_and_master_configs_are_conffiles",
    "distro-clobber": "test_distro_conflict_packages_verify_clean",
}
# Every check that needs only the box under test; the master-backed and lifecycle checks
# add minutes per variant and catch nothing these miss.
SUITES = ["suites/", "-m", "not needs_master and not lifecycle"]
# One file per defect, so the table survives pytest-xdist workers; printed by tests/conftest.py.
CATCH_TABLE_DIR = paths.REPO_ROOT / "reports" / "defects"

pytestmark = pytest.mark.slow


def built(defect: str) -> str:
    """The defect variant's packages: built, or taken as they are when current."""
    proc = subprocess.run(
        [sys.executable, "-m", "signoff.cli", "build", BOX, "--defect", defect],
        capture_output=True,
        text=True,
    )
    if proc.returncode != 0:
        pytest.fail(f"building the {defect} variant failed: {proc.stderr.strip()}", pytrace=False)
    return str(paths.DIST_DIR / f"{BOX}-defect-{defect}")


def test_the_build_module_lists_exactly_these_defects():
    listing = subprocess.run(
        [sys.executable, "-m", "signoff.cli", "build", "--list-defects"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    assert sorted(line.split()[0] for line in listing.splitlines() if line.strip()) == sorted(
        CAUGHT_BY
    )


@pytest.mark.parametrize("defect", sorted(CAUGHT_BY))
def test_suites_catch_the_defect(defect, tmp_path):
    packages = built(defect)
    junit = tmp_path / "junit.xml"
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            *SUITES,
            "--box",
            BOX,
            "--packages",
            packages,
            f"--junitxml={junit}",
            "-p",
            "no:cacheprovider",
            "-q",
        ],
        cwd=paths.REPO_ROOT,
        capture_output=True,
        text=True,
        env={**os.environ, "SVH_INSTANCE_SUFFIX": f"defect-{defect}"},
    )
    assert junit.exists(), f"the suites did not run against {packages}"
    failed = [
        c.name.replace(f"[{BOX}]", "")
        for c in report.read_junit(junit, [BOX])
        if c.outcome in ("failed", "error")
    ]
    CATCH_TABLE_DIR.mkdir(parents=True, exist_ok=True)
    (CATCH_TABLE_DIR / f"{defect}.json").write_text(json.dumps(failed))
    assert CAUGHT_BY[defect] in failed, (
        f"{defect} not caught by {CAUGHT_BY[defect]}; failing: {failed}"
    )
