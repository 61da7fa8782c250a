"""Which package set a suite verifies: dist/BOX/, --packages DIR, or another Salt line (the
lines the lifecycle upgrades from are the plugin's: verification.pytest_plugin.older_lines)."""

from __future__ import annotations

from pathlib import Path

import pytest

from harness import paths
from harness.errors import HarnessError
from verification.packages import (
    PackageSet,
    holds_one_set,
    made_for,
    older_line_dir,
    our_layout,
    package_dir,
)

INSTALLED = "installed"  # snapshot of the box right after our packages went in


def packages_dir(config, box_name: str, salt_version: str | None = None) -> Path:
    main = package_dir(box_name, config.getoption("--packages"))
    layout = our_layout(main) if holds_one_set(main) else None  # onedir: its lines are too
    if salt_version:
        chosen = older_line_dir(config.getoption("--older-line"), main)
        return chosen or paths.package_set_dir(box_name, salt_version, layout=layout)
    if holds_one_set(main) and not main.name.startswith(box_name) and not made_for(main, box_name):
        # --packages names one set, of the box under test: a helper box (the master of
        # centos7-abi) takes its own release's default set, in the same layout.
        return paths.package_set_dir(box_name, layout=layout)
    return main


def load_packages(config, box_name: str, salt_version: str | None = None) -> PackageSet:
    directory = packages_dir(config, box_name, salt_version)
    if salt_version and not holds_one_set(directory):
        pytest.fail(
            f"no Salt {salt_version} packages in {directory}: build them with "
            f"harness build {box_name} --salt {salt_version}",
            pytrace=False,
        )
    try:
        return PackageSet.load(directory, box_name, config.getoption("--prefix"))
    except HarnessError as e:
        problem = str(e)
    pytest.fail(problem, pytrace=False)  # outside the except: no chained traceback
