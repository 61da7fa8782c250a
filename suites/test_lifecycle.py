"""Package lifecycle, as one scenario on one box: install the older Salt line, edit its
config, upgrade to the packages under test, downgrade back, remove, purge, reinstall.
Each step is a test; they run in order on the same box (from pristine)."""

from __future__ import annotations

import pytest
from checks import expect_none, fail, sh
from package_sets import INSTALLED, load_packages

from harness import session
from verification.packages import remove_command

OLD_SALT = "3007.16"
LOCAL_EDIT = "# edited on the box: must survive upgrades"


@pytest.fixture(scope="module")
def scenario(request, installed, packages):
    """The box back to pristine with the older Salt line installed; restored to
    'installed' when the module is done."""
    old = load_packages(request.config, installed.spec.name, OLD_SALT)
    session.restore(installed)
    old.install(installed)
    state = {"old": old, "new": packages, "box": installed}
    yield state
    session.restore(installed, INSTALLED)


def minion_pid(machine) -> str:
    return sh(machine, "systemctl show -p MainPID --value salt-minion").stdout.strip()


def salt_version(machine) -> str:
    return sh(machine, "/usr/bin/salt-call --version").stdout.split()[1]


def test_older_line_installs_and_runs(scenario):
    machine, old = scenario["box"], scenario["old"]
    if salt_version(machine) != old.salt_version:
        fail(
            machine, f"salt-call {old.salt_version}", salt_version(machine), "/usr/bin/salt-call --version"
        )
    sh(machine, f"echo '{LOCAL_EDIT}' >> /etc/salt/minion && systemctl is-enabled salt-minion")
    # The minion's identity: made here, since without a master it never signs in to make it.
    sh(
        machine,
        "test -f /etc/salt/pki/minion/minion.pub || "
        "/opt/salt/bin/salt-key --gen-keys=minion --gen-keys-dir=/etc/salt/pki/minion >/dev/null",
    )
    sh(machine, "systemctl restart salt-minion")
    scenario["key"] = sh(machine, "cat /etc/salt/pki/minion/minion.pub").stdout
    scenario["pid"] = minion_pid(machine)


def test_upgrade_keeps_edits_keys_and_enabled_state(scenario):
    machine, new = scenario["box"], scenario["new"]
    new.install(machine)
    if salt_version(machine) != new.salt_version:
        fail(
            machine, f"salt-call {new.salt_version}", salt_version(machine), "/usr/bin/salt-call --version"
        )
    command = "tail -n 1 /etc/salt/minion"
    if sh(machine, command).stdout.strip() != LOCAL_EDIT:
        fail(machine, "the local edit of /etc/salt/minion kept", sh(machine, command).stdout, command)
    if sh(machine, "cat /etc/salt/pki/minion/minion.pub").stdout != scenario["key"]:
        fail(machine, "the minion key kept", "a different key", "cat /etc/salt/pki/minion/minion.pub")
    sh(machine, "systemctl is-enabled salt-minion")


def test_upgrade_restarts_the_running_minion_on_the_new_interpreter(scenario):
    machine = scenario["box"]
    pid = minion_pid(machine)
    if pid in ("0", scenario["pid"]):
        fail(
            machine,
            "a new salt-minion process after the upgrade",
            f"MainPID {pid}",
            "systemctl show -p MainPID salt-minion",
        )
    command = f"readlink /proc/{pid}/exe; grep -c ' (deleted)' /proc/{pid}/maps || true"
    exe, deleted = sh(machine, command).stdout.split()
    if deleted != "0" or "(deleted)" in exe:
        fail(
            machine,
            "the minion running files of the new package only",
            f"{deleted} deleted mappings",
            command,
        )


def test_downgrade_back_to_the_older_line_works(scenario):
    machine, old = scenario["box"], scenario["old"]
    old.install(machine, downgrade=True)
    if salt_version(machine) != old.salt_version:
        fail(
            machine, f"salt-call {old.salt_version}", salt_version(machine), "/usr/bin/salt-call --version"
        )
    sh(machine, "systemctl is-active salt-minion && /usr/bin/salt-call --local test.ping")


def test_remove_stops_the_service_and_leaves_nothing_in_opt_salt(scenario):
    machine, old = scenario["box"], scenario["old"]
    sh(machine, remove_command(old.package_format, old.names))
    command = "pgrep -af '[s]alt-(minion|master)' || true"
    expect_none(machine, "salt process after removal", command, sh(machine, command).stdout.splitlines())
    command = "find /opt/salt 2>/dev/null || true"
    expect_none(
        machine,
        "file left under /opt/salt after removal",
        command,
        sh(machine, command).stdout.splitlines(),
    )
    conflicts = " ".join(c.package for c in machine.spec.conflicts)
    command = f"dpkg --verify {conflicts}"
    expect_none(
        machine,
        "changed file of a distro conflict package after removal",
        command,
        sh(machine, command, expect_ok=False).stdout.splitlines(),
    )
    sh(machine, "test -f /etc/salt/minion")  # removed, not purged: configs stay


def test_purge_removes_the_configs(scenario):
    machine, old = scenario["box"], scenario["old"]
    sh(machine, remove_command(old.package_format, old.names, purge=True))
    command = "ls /etc/salt/minion /etc/salt/master /etc/salt/pki 2>/dev/null || true"
    expect_none(machine, "config left after purge", command, sh(machine, command).stdout.splitlines())


def test_reinstall_after_purge_works(scenario):
    machine, new = scenario["box"], scenario["new"]
    new.install(machine)
    sh(machine, "systemctl is-active salt-minion && /usr/bin/salt-call --local test.ping")
