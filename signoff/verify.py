"""`harness verify`: the suites over a set of boxes, then the sign-off report."""

from __future__ import annotations

import shlex
import sys
import time
from pathlib import Path

from harness import catalog, paths, runner
from harness.errors import HarnessError
from verification.packages import PackageSet, package_dir

from . import report


def manifests(boxes: list[str], packages: str | None) -> dict[str, dict]:
    """The manifest of every box's package set.

    A missing set stops the run before any box starts.
    """
    found = {}
    for box in boxes:
        spec = catalog.load_box(box)
        own = spec.packages_of or box  # centos7-abi verifies centos7's packages
        found[box] = PackageSet.load(package_dir(own, packages), own).manifest
        if spec.master and spec.master != own:  # its salt-master's packages
            PackageSet.load(paths.DIST_DIR / spec.master, spec.master)
    return found


def pytest_argv(
    boxes: list[str],
    junit: Path,
    workers: int,
    provider: str | None,
    packages: str | None,
    keep_boxes: bool,
    marker: str | None,
    keyword: str | None,
) -> list[str]:
    argv = [
        sys.executable,
        "-m",
        "pytest",
        "suites/",
        "--box",
        ",".join(boxes),
        f"--junitxml={junit}",
        "-p",
        "no:cacheprovider",
        "-q",
    ]
    if workers > 1:
        argv += ["-n", str(workers), "--dist", "loadgroup"]
    for flag, value in (
        ("--provider", provider),
        ("--packages", packages),
        ("-m", marker),
        ("-k", keyword),
    ):
        if value:
            argv += [flag, value]
    if keep_boxes:
        argv.append("--keep-boxes")
    return argv


def verify(
    box_spec: list[str] | None,
    workers: int = 1,
    provider: str | None = None,
    packages: str | None = None,
    keep_boxes: bool = False,
    marker: str | None = None,
    keyword: str | None = None,
    reports_dir: Path | None = None,
) -> tuple[dict, Path]:
    boxes = [b.name for b in catalog.select_boxes(box_spec or None)]
    if packages and len(boxes) > 1 and (Path(packages) / "manifest.json").exists():
        raise HarnessError(
            f"--packages {packages} holds one box's packages; with several boxes "
            "give a directory with one subdirectory per box"
        )
    found = manifests(boxes, packages)
    started = time.time()
    report_dir = (reports_dir or paths.REPO_ROOT / "reports") / time.strftime("%Y%m%d-%H%M%S")
    report_dir.mkdir(parents=True, exist_ok=True)
    argv = pytest_argv(
        boxes, report_dir / "junit.xml", workers, provider, packages, keep_boxes, marker, keyword
    )
    with open(report_dir / "pytest.log", "w") as log:
        code = runner.tee(argv, log, cwd=paths.REPO_ROOT, on_line=print)
    if not (report_dir / "junit.xml").exists():
        raise HarnessError(
            f"the suites did not run (pytest exited {code}); see {report_dir / 'pytest.log'}"
        )
    command = " ".join(shlex.quote(a) for a in ["pytest", *argv[3:]])
    summary = report.write(
        report_dir, report.collect(report_dir / "junit.xml", found), started, command
    )
    return summary, report_dir
