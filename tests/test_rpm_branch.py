"""The suites' RPM branch, checked here without CentOS: the centos7 RPMs installed with rpm
(Debian's, into its own database on a debian12 box) answer the questions the suites ask an
RPM box (harness.platform of centos7) the way the suites expect."""

from __future__ import annotations

import pytest
from build_helpers import ensure_built, read_manifest

from builds.errors import BuildError
from harness import catalog, platform
from harness.session import box_instance
from verification.packages import PackageSet

pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("build")]


@pytest.fixture(scope="module")
def rpm_box():
    try:
        out = ensure_built("centos7")
    except BuildError as e:
        pytest.fail(f"harness build centos7 failed: {e}", pytrace=False)
    packages = PackageSet.load(out, "centos7")
    with box_instance("debian12", name="rpm-branch") as machine:
        files = " ".join(packages.copy_to(machine))
        # No scriptlets (they would call EL7's systemctl) and no dependency check: Debian's
        # rpm database holds only ours.
        machine.run(f"rpm -i --nodeps --noscripts {files}", timeout=600)
        yield machine, packages, platform.of(catalog.load_box("centos7")).packages


def lines(machine, command: str) -> list[str]:
    return [line for line in machine.run(command).stdout.splitlines() if line.strip()]


def test_installed_versions_are_the_built_ones(rpm_box):
    machine, packages, db = rpm_box
    found = dict(line.split(None, 1) for line in lines(machine, db.installed(packages.names)))
    assert found == {p.name: p.version for p in packages.packages}
    assert read_manifest(packages.directory)["package_format"] == "rpm"


def test_files_owner_and_conffiles(rpm_box):
    machine, packages, db = rpm_box
    files = set(lines(machine, db.files(packages.names)))
    assert {"/opt/salt/bin/python3", "/usr/bin/salt-call", "/etc/salt/minion"} <= files
    assert lines(machine, db.owner("/etc/salt/minion")) == ["salt-minion"]
    assert lines(machine, db.owner("/nonexistent")) == []
    assert {"/etc/salt/minion", "/etc/salt/master"} <= set(
        lines(machine, db.conffiles(packages.names))
    )


def test_verify_is_clean_until_a_file_changes(rpm_box):
    machine, packages, db = rpm_box
    assert lines(machine, db.verify(packages.names)) == []
    machine.run("echo '# local edit' >> /etc/salt/minion && echo x >> /opt/salt/pyvenv.cfg")
    changed = " ".join(lines(machine, db.verify(packages.names)))
    assert "/etc/salt/minion" in changed and "/opt/salt/pyvenv.cfg" in changed
