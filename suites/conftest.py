"""Fixtures of the verification suites: the package set under test, a box with it
installed, and a salt-master on a second box of the same release."""

from __future__ import annotations

from pathlib import Path

import pytest
from checks import needs_service, prefix, record_layout
from extras import EXTENSIONS, extension_wheel, needs_salt_pip
from extras import extra_wheel as make_extra_wheel
from package_sets import INSTALLED, load_packages

from harness import session
from harness.errors import HarnessError
from verification import events
from verification.packages import PackageSet
from verification.payload_layout import PayloadLayout
from verification.salt import SaltMaster, SaltMinion


def pytest_collection_modifyitems(items):
    # Checks that need a second box (a master) or the older Salt line: quick runs skip them.
    for item in items:
        if {"minion", "master"} & set(item.fixturenames):
            item.add_marker(pytest.mark.needs_master)
    # Each box's checks that use its signed-in minion run after its others: a check that
    # takes the box back to 'installed' (fresh, the lifecycle scenario) signs it out.
    first: dict[object, int] = {}
    for index, item in enumerate(items):
        first.setdefault(box_of(item), index)
    items.sort(key=lambda item: (first[box_of(item)], "minion" in item.fixturenames))


def box_of(item) -> object:
    callspec = getattr(item, "callspec", None)
    return callspec.params.get("machine") if callspec else None


@pytest.fixture(scope="session")
def packages(request, machine) -> PackageSet:
    """The package set under test, for the box under test."""
    found = load_packages(request.config, machine.spec.packages_box)
    record_layout(machine, found.layout)
    return found


@pytest.fixture(scope="session")
def installed(machine, packages):
    """The box with every one of our packages installed by its package manager."""
    events.phase(machine.spec.name, "install")
    try:
        packages.install(machine)
    except HarnessError as e:
        pytest.fail(f"installing {packages.directory} on {machine.name} failed: {e}", pytrace=False)
    session.snapshot_machine(machine, INSTALLED)
    events.phase(machine.spec.name, "suites")
    return machine


@pytest.fixture
def fresh(installed):
    """The installed box, back to the moment right after install (for tests that change it)."""
    yield installed
    session.restore_machine(installed, INSTALLED)


@pytest.fixture(scope="session")
def opt_salt(installed, tmp_path_factory):
    """The payload's prefix (ours: /opt/salt) as installed on the box, copied to the host
    (its ELF files are read there, with pyelftools: a box need not have binutils)."""
    local = tmp_path_factory.mktemp("opt-salt")
    installed.fetch_tree(prefix(installed), local)
    return local


@pytest.fixture(scope="session")
def extra_wheel(tmp_path_factory, packages):
    """A small pure-Python wheel for salt-pip (suites/extras.py)."""
    needs_salt_pip(packages)
    return make_extra_wheel(tmp_path_factory.mktemp("wheel"))


@pytest.fixture(scope="session")
def extension_wheels(tmp_path_factory, packages) -> dict[tuple[str, str], Path]:
    """Salt extensions of the saltext namespace as wheels, by (distribution, version):
    each at 1.0, and the first at 2.0 too (suites/extras.py)."""
    needs_salt_pip(packages)
    directory = tmp_path_factory.mktemp("extensions")
    wanted = [(name, "1.0") for name in EXTENSIONS] + [(next(iter(EXTENSIONS)), "2.0")]
    return {w: extension_wheel(directory, *w) for w in wanted}


@pytest.fixture(scope="session")
def masters() -> dict[str, SaltMaster]:
    """The masters this test process started, by box: boxes that name the same master
    (debian12 and centos7-abi) share one instead of starting it twice under one name."""
    return {}


@pytest.fixture(scope="session")
def master(request, machine, box_factory, packages, masters) -> SaltMaster:
    """salt-master from our packages on a second box: of the same release, or the box the
    catalog names (centos7-abi's minion answers a master on debian12)."""
    master_box = machine.spec.master or machine.spec.name
    if master_box in masters:
        return masters[master_box]
    if master_box != machine.spec.name:
        packages = load_packages(request.config, master_box)
    events.phase(machine.spec.name, "master")
    layout = packages.layout
    if "salt-master" not in layout.commands:
        pytest.skip(f"the packages in {packages.directory} have no salt-master to sign in to")
    # The common package, and salt-master's where it has one of its own (and a service).
    wanted = sorted({layout.common, layout.services.get("salt-master", layout.common)})
    master_machine = box_factory(master_box, "master")
    record_layout(master_machine, layout)
    packages.install(master_machine, wanted)
    master_tools_on_path(master_machine, layout)
    assert master_machine.instance is not None
    salt_master = SaltMaster(
        master_machine, master_machine.instance.address, "salt-master" in layout.services
    )
    salt_master.start()
    masters[master_box] = salt_master
    events.phase(machine.spec.name, "suites")
    return salt_master


def master_tools_on_path(machine, layout: PayloadLayout) -> None:
    """The master's box is a helper, not the box under test: where the packages leave
    Salt's master tools off the PATH (a bare venv), they are linked into /usr/local/bin
    there, so the checks run `salt` and `salt-key` on it as an admin would."""
    links = [
        f"ln -sf {path} /usr/local/bin/{tool}"
        for tool, path in layout.commands.items()
        if tool in ("salt", "salt-key", "salt-master", "salt-run") and not path.startswith("/usr/")
    ]
    if links:
        machine.run(" && ".join(links))


@pytest.fixture(scope="session")
def signed_in(installed, master) -> SaltMinion:
    """The box under test's salt-minion, its key accepted by `master`, ready."""
    needs_service(installed, "salt-minion")
    salt_minion = SaltMinion(installed, master)
    salt_minion.sign_in()
    return salt_minion


@pytest.fixture
def minion(signed_in) -> SaltMinion:
    """The signed-in minion; signed in again first when a test in between took the box
    back to 'installed' (`fresh`), where no master is configured."""
    if signed_in.machine.run(f"test -f {SaltMinion.config}", check=False).exit_status != 0:
        signed_in.sign_in()
    return signed_in
