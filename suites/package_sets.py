"""Which package set a suite verifies: dist/BOX/, --packages DIR, or another Salt line."""

from __future__ import annotations

from pathlib import Path

import pytest

from harness import paths
from harness.errors import HarnessError
from verification.packages import PackageSet, package_dir

INSTALLED = "installed"  # snapshot of the box right after our packages went in


def packages_dir(config, box_name: str, salt_version: str | None = None) -> Path:
    if salt_version:
        return paths.DIST_DIR / f"{box_name}-salt-{salt_version}"
    return package_dir(box_name, config.getoption("--packages"))


def load_packages(config, box_name: str, salt_version: str | None = None) -> PackageSet:
    try:
        return PackageSet.load(packages_dir(config, box_name, salt_version), box_name)
    except HarnessError as e:
        pytest.fail(str(e), pytrace=False)
