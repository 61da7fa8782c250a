"""Fixtures of the verification suites: the package set under test, a box with it
installed, and a salt-master on a second box of the same release."""

from __future__ import annotations

import pytest
from package_sets import INSTALLED, load_packages

from harness import session
from harness.errors import HarnessError
from harness.salt import SaltMaster, SaltMinion


def pytest_collection_modifyitems(items):
    # Checks that need a second box (a master) or the older Salt line: quick runs skip them.
    for item in items:
        if {"minion", "master"} & set(item.fixturenames):
            item.add_marker(pytest.mark.needs_master)
        if "scenario" in item.fixturenames:
            item.add_marker(pytest.mark.lifecycle)


@pytest.fixture(scope="session")
def packages(request, box) -> PackageSet:
    """The package set under test, for the box under test."""
    return load_packages(request.config, box.box.name)


@pytest.fixture(scope="session")
def installed(box, packages):
    """The box with every one of our packages installed by its package manager."""
    try:
        packages.install(box)
    except HarnessError as e:
        pytest.fail(f"installing {packages.directory} on {box.name} failed: {e}", pytrace=False)
    session.snapshot(box, INSTALLED)
    return box


@pytest.fixture
def fresh(installed):
    """The installed box, back to the moment right after install (for tests that change it)."""
    yield installed
    session.restore(installed, INSTALLED)


@pytest.fixture(scope="session")
def master(box, box_factory, packages) -> SaltMaster:
    """salt-master from our packages on a second box of the same release."""
    machine = box_factory(box.box.name, "master")
    packages.install(machine, ["salt", "salt-master"])
    salt_master = SaltMaster(machine, machine.instance.address)
    salt_master.start()
    return salt_master


@pytest.fixture(scope="session")
def minion(installed, master) -> SaltMinion:
    """The box under test's salt-minion, its key accepted by `master`, ready."""
    salt_minion = SaltMinion(installed, master)
    salt_minion.configure()
    salt_minion.restart(accept=True)
    return salt_minion
