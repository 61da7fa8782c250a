"""Which package set a suite verifies: dist/BOX/, --packages DIR, or another Salt line."""

from __future__ import annotations

from pathlib import Path

import pytest

from builds.locks import OLDER_LINES
from harness import paths
from harness.errors import HarnessError
from verification.packages import PackageSet, package_dir

INSTALLED = "installed"  # snapshot of the box right after our packages went in


def packages_dir(config, box_name: str, salt_version: str | None = None) -> Path:
    if salt_version:
        chosen = config.getoption("--older-line")
        return Path(chosen) if chosen else paths.package_set_dir(box_name, salt_version)
    chosen = package_dir(box_name, config.getoption("--packages"))
    if (chosen / "manifest.json").exists() and not chosen.name.startswith(box_name):
        # --packages names one set, of the box under test: a helper box (the master of
        # centos7-abi) takes its own release's default set.
        manifest = PackageSet.read_manifest(chosen)
        if manifest.get("box") != box_name:
            return paths.package_set_dir(box_name)
    return chosen


def older_lines(config) -> list[str]:
    """The Salt lines the lifecycle upgrades from: --older-line's (its manifest's), each
    --older-salt, or every line of OLDER_LINES."""
    chosen = config.getoption("--older-line")
    if chosen and (Path(chosen) / "manifest.json").exists():
        return [PackageSet.read_manifest(Path(chosen))["salt_version"]]
    named = [v.strip() for item in config.getoption("--older-salt") for v in item.split(",")]
    lines = [v for v in named if v] or list(OLDER_LINES)
    return lines[:1] if chosen else lines


def load_packages(config, box_name: str, salt_version: str | None = None) -> PackageSet:
    directory = packages_dir(config, box_name, salt_version)
    if salt_version and not (directory / "manifest.json").exists():
        pytest.fail(
            f"no Salt {salt_version} packages in {directory}: build them with "
            f"harness build {box_name} --salt {salt_version}",
            pytrace=False,
        )
    try:
        return PackageSet.load(directory, box_name)
    except HarnessError as e:
        problem = str(e)
    pytest.fail(problem, pytrace=False)  # outside the except: no chained traceback
