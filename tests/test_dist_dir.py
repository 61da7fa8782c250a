"""SVH_DIST_DIR moves where package sets are built and where every verifier looks for
them: one naming rule (harness.paths), asked by the build, the CLI and the suites."""

from __future__ import annotations

import os
import subprocess
import sys

from builds.build import output_dir
from harness import paths
from verification.packages import package_dir


def test_build_and_verifier_follow_svh_dist_dir(tmp_path, monkeypatch):
    monkeypatch.setenv("SVH_DIST_DIR", str(tmp_path))
    assert output_dir("debian12") == package_dir("debian12") == tmp_path / "debian12"
    assert output_dir("debian12", "3007.16") == paths.package_set_dir("debian12", "3007.16")
    assert output_dir("debian12", defect="conffile") == tmp_path / "debian12-defect-conffile"


def test_harness_verify_looks_in_svh_dist_dir(tmp_path):
    done = subprocess.run(
        [sys.executable, "-m", "signoff.cli", "verify", "--box", "debian12"],
        env=dict(os.environ, SVH_DIST_DIR=str(tmp_path)),
        cwd=paths.REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode != 0
    said = done.stdout + done.stderr
    assert f"no packages in {tmp_path / 'debian12'}" in said, said
    assert "Traceback" not in said
