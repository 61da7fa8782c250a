"""Package lifecycle on one box: the older Salt line installed and its config edited, then
upgrade to the packages under test, downgrade back, remove, purge, reinstall.

Each step is a test that runs on its own (`-k upgrade` alone works): the state a step
starts from is made once per run by a fixture and kept as a snapshot of the box, so a
later step restores it in about a second instead of replaying the steps before it. What
can only be seen while a step happens (the minion's PID right after the upgrade) is
recorded by the fixture that makes the state and checked by the test.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass

import pytest
from checks import (
    answers,
    configure_api,
    expect_none,
    expect_silent,
    expect_unchanged,
    fail,
    layout,
    lines,
    main_pid,
    pkgdb,
    platform_of,
    prefix,
    services,
    sh,
    supported,
    tool_path,
)
from extras import (
    NATIVE,
    NATIVE_VERSION,
    carries_salt_pip,
    expect_in_extras,
    native_wheel,
    needs_salt_pip,
    salt_pip_install,
)
from package_sets import INSTALLED, load_packages

from harness import session
from harness.errors import HarnessError
from harness.transport import Machine, Result
from verification import events
from verification.packages import PackageSet
from verification.salt import MINION_READY, SaltMinion, log_lines, wait_for_log

pytestmark = pytest.mark.lifecycle  # quick runs (-m "not lifecycle") leave the scenario out
CONFIG = "/etc/salt/minion"  # the config an admin edits
LOCAL_EDIT = "# edited on the box: must survive upgrades"


# The admin's choice for each unit before a package change, which upgrade and downgrade
# keep (salt#69605, salt#68406): (is-enabled, is-active). Each unit goes through every
# state the init system has, one round per state: round r gives unit i states[(i + r) % n],
# so a package that forces one unit back on (or off) is seen whatever state it was in.
# Round 0 is the change every other check looks at: the minion enabled and running.
def units(machine: Machine) -> tuple[str, ...]:
    """The daemons the packages bring a unit or init script for (ours: all four)."""
    return layout(machine).daemons


def service_choices(machine: Machine, round_: int) -> dict[str, tuple[str, str]]:
    states = services(machine).admin_states
    return {unit: states[(i + round_) % len(states)] for i, unit in enumerate(units(machine))}


def service_states(machine: Machine) -> str:
    return " ; ".join(services(machine).state(unit) for unit in units(machine))


def minion_runs_and_answers(machine: Machine) -> None:
    sh(
        machine,
        f"{services(machine).is_active('salt-minion')} && "
        f"{tool_path(machine, 'salt-call')} --local test.ping",
    )


def minion_on_as_the_policy_or_the_admin_leaves_it(machine: Machine) -> None:
    """Right after an install: Debian's policy enabled and started the minion; under EL's
    presets it is the admin who does, as the first step after installing."""
    if platform_of(machine).starts_on_install:
        sh(machine, services(machine).is_enabled("salt-minion"))
    else:
        sh(machine, services(machine).set_state("salt-minion", "enabled", "active"))


def salt_version(machine: Machine) -> str:
    return sh(machine, f"{tool_path(machine, 'salt-call')} --version").stdout.split()[1]


def apply_service_choices(machine: Machine, round_: int = 0) -> None:
    """The admin's choices, made right before a package change: a restore boots the box,
    and boot starts every enabled unit."""
    choices = service_choices(machine, round_)
    for unit, (enabled, active) in choices.items():
        sh(machine, services(machine).set_state(unit, enabled, active))
    found = service_states_after(machine)
    if found != choices:  # the package change must start from exactly the admin's choices
        fail(
            machine,
            f"the admin's choices in effect: {choices}",
            str(found),
            service_states(machine),
        )


def service_states_after(machine: Machine) -> dict[str, tuple[str, ...]]:
    """Each unit's (is-enabled, is-active) once systemd has run what the package queued."""
    # Restarts a package queued without waiting for them are done when no job is.
    sh(machine, services(machine).settle(), expect_ok=False)
    found = {}
    for line in sh(machine, service_states(machine), expect_ok=False).stdout.splitlines():
        unit, *state = line.split()
        found[unit] = tuple(state)
    return found


@dataclass
class UnitsAfter:
    """The units right after a package change: each one's (is-enabled, is-active), and the
    init system's account of those off the admin's choice, taken at once (the next round's
    restore takes the box's log away)."""

    states: dict[str, tuple[str, ...]]
    account: str


def units_after(machine: Machine, round_: int) -> UnitsAfter:
    states = service_states_after(machine)
    changed = [
        u for u, choice in service_choices(machine, round_).items() if states.get(u) != choice
    ]
    account = "".join(
        f"\n  round {round_}, {unit}:\n    "
        + "\n    ".join(
            sh(machine, services(machine).status(unit), expect_ok=False).stdout.splitlines()
        )
        for unit in changed
    )
    return UnitsAfter(states, account)


def expect_service_choices_kept(machine: Machine, step: str, rounds: dict[int, UnitsAfter]) -> None:
    """rounds: each round's units right after the package change."""
    changed = [
        f"round {round_}, {unit}: {' '.join(choice)} before, "
        f"{' '.join(found.states.get(unit, ('gone',)))} after"
        for round_, found in sorted(rounds.items())
        for unit, choice in service_choices(machine, round_).items()
        if found.states.get(unit) != choice
    ]
    if changed:
        fail(
            machine,
            f"each unit's enabled, masked and running state kept by the {step}, "
            f"for every unit in every state (rounds checked: {', '.join(map(str, rounds))})",
            "; ".join(changed) + "".join(found.account for found in rounds.values()),
            service_states(machine),
        )


def states_after_each_round(machine, start: str, change) -> dict[int, UnitsAfter]:
    """Rounds 1 on: from snapshot `start`, the round's choices, change(machine), the units'
    states right after. (Round 0 is the fixture's own package change.)"""
    rounds = {}
    for round_ in range(1, len(services(machine).admin_states)):
        session.restore_machine(machine, start)
        apply_service_choices(machine, round_)
        change(machine)
        rounds[round_] = units_after(machine, round_)
    return rounds


def deleted_files_mapped(pid: str) -> str:
    """The command listing the files that process `pid` maps and that are gone from disk:
    files of a package an upgrade replaced. Memory shared through a name that is unlinked
    once opened, by design, is no package's file: POSIX semaphores and shared memory in
    /dev/shm (Python's multiprocessing locks), memfd and SysV segments."""
    memory = r" (/dev/shm/|/memfd:|/SYSV[0-9a-f]{8} )"
    return f"grep ' (deleted)$' /proc/{pid}/maps | grep -Ev '{memory}' || true"


def expect_version(machine: Machine, packages: PackageSet) -> None:
    found = salt_version(machine)
    if found != packages.salt_version:
        command = f"{tool_path(machine, 'salt-call')} --version"
        fail(machine, f"salt-call {packages.salt_version}", found, command)


@dataclass
class OldLine:
    machine: Machine
    old: PackageSet
    new: PackageSet
    key: str  # the minion's public key before any upgrade
    config_digest: str  # what the database keeps of the older line's own /etc/salt/minion

    def state(self, name: str) -> str:
        """The snapshot of lifecycle state `name` ('old-line', 'upgraded', ...) of this line."""
        return f"{name}-{self.old.salt_version}"


@dataclass
class Upgraded:
    line: OldLine
    pid_before: str  # the minion's PID right before the upgrade
    pid: str  # and right after it
    exe: str
    deleted_maps: str
    unattended: Result  # the upgrade as an unattended one runs it: no terminal, no answers
    seconds: float
    services: UnitsAfter  # the units right after the upgrade (round 0's choices before)
    # What the init system still had queued for our units as the package manager returned
    # (the minion slowed to stop in 5 s, as one signed in to its master takes); None where
    # nothing can be queued.
    pending: str | None


@dataclass
class Downgraded:
    line: OldLine
    services: UnitsAfter  # the units right after the downgrade (round 0's choices before)


def set_up_old_line(request, machine, old, packages, tmp_path_factory) -> OldLine:
    """The box back to pristine, the older line installed and used as an admin would."""
    session.restore_machine(machine)
    old.install(machine)
    sh(machine, f"echo '{LOCAL_EDIT}' >> /etc/salt/minion")
    configure_api(machine)
    minion_on_as_the_policy_or_the_admin_leaves_it(machine)
    # The minion's identity: made here, since without a master it never signs in to make it.
    sh(
        machine,
        "test -f /etc/salt/pki/minion/minion.pub || "
        # As root, as the minion runs: salt-key would take the master's user (Salt's onedir
        # layout: salt), which may not write the minion's key store.
        f"{prefix(machine)}/bin/salt-key --user root --gen-keys=minion "
        "--gen-keys-dir=/etc/salt/pki/minion "
        ">/dev/null",
    )
    if carries_salt_pip(old) and carries_salt_pip(packages):  # Python 2.7's lines have none
        # an admin's extras, installed by the old line
        salt_pip_install(machine, request.getfixturevalue("extra_wheel"))
        native = native_wheel(tmp_path_factory.mktemp("native"), old.python_minor)
        salt_pip_install(machine, native)
    key = sh(machine, "cat /etc/salt/pki/minion/minion.pub").stdout
    digest = sh(machine, pkgdb(machine).packaged_digest(CONFIG)).stdout.strip()
    line = OldLine(machine, old, packages, key, digest)
    session.snapshot_machine(machine, line.state("old-line"))
    return line


@pytest.fixture(scope="module")
def old_line(request, installed, packages, older_salt, tmp_path_factory):
    """Once per older line of the box's packages (the plugin pairs each box with its own: the
    previous line and the LTS, or its catalog's older_salt).

    Snapshot 'old-line': pristine box, older Salt line installed, /etc/salt/minion edited,
    the minion's keys made and the minion running, two extras installed with salt-pip (one
    pure Python, one built for the line's Python minor). Back to 'installed' at the end."""
    machine = installed
    supported(pkgdb(machine).installed, [])  # upgrades need a package database
    old = load_packages(request.config, machine.spec.packages_box, older_salt)
    events.phase(machine.spec.name, "lifecycle")
    try:
        line = set_up_old_line(request, machine, old, packages, tmp_path_factory)
    except BaseException:
        session.restore_machine(machine, INSTALLED)  # the checks after it find it installed
        raise
    yield line
    session.restore_machine(machine, INSTALLED)


@pytest.fixture(scope="module")
def upgraded(old_line):
    """Snapshot 'upgraded': 'old-line' (units set as round 0 chooses) upgraded to the
    packages under test, with what the running minion and the units looked like right after
    the upgrade."""
    machine = old_line.machine
    session.restore_machine(machine, old_line.state("old-line"))
    apply_service_choices(machine)
    init = services(machine)
    slowed = answers(init.slow_stop, "salt-minion")
    if slowed:
        sh(machine, slowed)
    before = main_pid(machine, "salt-minion")
    started = time.monotonic()
    unattended = old_line.new.install(machine, unattended=True, check=False)
    seconds = time.monotonic() - started
    pending = sh(machine, init.pending()).stdout.strip() if slowed else None
    if unattended.exit_status != 0:  # finish it as an admin would: the other checks still run
        old_line.new.install(machine)
    after = units_after(machine, 0)
    pid = main_pid(machine, "salt-minion")
    exe = sh(machine, f"readlink /proc/{pid}/exe || true").stdout.strip()
    deleted = str(len(lines(machine, deleted_files_mapped(pid))))
    session.snapshot_machine(machine, old_line.state("upgraded"))
    return Upgraded(old_line, before, pid, exe, deleted, unattended, seconds, after, pending)


@dataclass
class SelfUpgraded:
    line: OldLine
    minion_id: str
    job: str  # what the master's order returned, or why nothing did
    came_back: bool  # the minion answered with the new version, on its own
    seconds: float


@pytest.fixture(scope="module")
def self_upgraded(old_line, master):
    """'old-line' with its minion signed in to `master`, then upgraded by that minion on the
    master's order (salt#69656): the packages under test, copied to the box, installed by
    Salt's pkg module, or by rpm through cmd.run where Salt sees another package manager."""
    machine, new = old_line.machine, old_line.new
    session.restore_machine(machine, old_line.state("old-line"))
    minion = SaltMinion(machine, master, f"{machine.name}-self-upgrade")
    minion.sign_in()
    files = new.copy_to(machine)
    upgrade = zip([p.name for p in new.packages], files, strict=True)
    function, args = pkgdb(machine).self_upgrade(list(upgrade))
    mark = log_lines(machine, SaltMinion.log)
    started = time.monotonic()
    try:  # past -t, salt asks the minion (find_job) and waits on only while the job runs
        returned = master.salt(minion.id, function, *args, timeout=20)
        job = json.dumps(returned)
    except HarnessError as e:  # the minion restarting under its own job may not return it
        job = f"no return ({e})"
    # Once systemd has nothing left to do, a minion that is not running never comes back.
    sh(machine, services(machine).settle(), expect_ok=False)
    is_active = services(machine).is_active("salt-minion")
    running = sh(machine, is_active, expect_ok=False).exit_status == 0
    if running:  # ask once the new minion says it is connected: an early question costs 5 s
        try:
            wait_for_log(machine, SaltMinion.log, MINION_READY, mark, timeout=120)
        except HarnessError:
            running = False
    came_back = running and master.wait_for_version(minion.id, new.salt_version, timeout=120)
    yield SelfUpgraded(old_line, minion.id, job, came_back, time.monotonic() - started)
    minion.forget()


# An admin who runs the master as a user of their own (Salt's `user:`) owns its key store,
# cache and log; our daemons run as root by default, so a package must never hand those
# back to root (salt#65264, salt#68793: ownership reset on upgrade).
ADMIN_USER = "saltadm"
ADMIN_USER_CONFIG = ("/etc/salt/master.d/user.conf", f"user: {ADMIN_USER}\n")
MASTER_OWNED = "/etc/salt/pki/master /var/cache/salt/master /var/log/salt/master"


@pytest.fixture(scope="module")
def custom_user_upgraded(old_line):
    """'old-line' with the master set to run as ADMIN_USER (stopped, so that no restart of
    it re-owns its trees and hides what the packages did), upgraded to the packages under
    test, then salt-call and salt-pip run as root: what of the master's trees ADMIN_USER no
    longer owns, and the config."""
    machine = old_line.machine
    session.restore_machine(machine, old_line.state("old-line"))
    sh(machine, f"{services(machine).stop('salt-master')} || true")
    sh(
        machine,
        f"id {ADMIN_USER} >/dev/null 2>&1 || useradd --system --home-dir /var/lib/{ADMIN_USER} "
        f"--shell /bin/sh {ADMIN_USER}; mkdir -p /etc/salt/pki/master /var/cache/salt/master "
        f"&& touch /var/log/salt/master && chown -R {ADMIN_USER}: {MASTER_OWNED}",
    )
    machine.write_text(*ADMIN_USER_CONFIG)
    old_line.new.install(machine)
    # root's tools afterwards must not make anything of the master's root's either.
    tools = [f"{tool_path(machine, 'salt-call')} --local test.ping"]
    if carries_salt_pip(old_line.new):  # none on Python 2.7
        tools.append(f"{tool_path(machine, 'salt-pip')} list")
    sh(machine, " && ".join(f"{tool} >/dev/null" for tool in tools))
    command = f"find {MASTER_OWNED} ! -user {ADMIN_USER} -printf '%p %u\\n'"
    config = sh(machine, f"cat {ADMIN_USER_CONFIG[0]}").stdout
    return machine, command, lines(machine, command), config


def test_an_admins_master_user_and_its_ownership_survive_an_upgrade(custom_user_upgraded):
    machine, command, not_theirs, config = custom_user_upgraded
    if config != ADMIN_USER_CONFIG[1]:
        fail(machine, f"{ADMIN_USER_CONFIG[0]} kept", config, f"cat {ADMIN_USER_CONFIG[0]}")
    what = f"path of the master's no longer owned by {ADMIN_USER}"
    expect_none(machine, what, command, not_theirs)


@pytest.fixture(scope="module")
def downgraded(upgraded):
    """Snapshot 'downgraded': 'upgraded' (units set as round 0 chooses) taken back to
    the older line, with the units' states right after."""
    machine = upgraded.line.machine
    session.restore_machine(machine, upgraded.line.state("upgraded"))
    apply_service_choices(machine)
    upgraded.line.old.install(machine, downgrade=True)
    services = units_after(machine, 0)
    session.snapshot_machine(machine, upgraded.line.state("downgraded"))
    return Downgraded(upgraded.line, services)


@pytest.fixture(scope="module")
def purged(old_line):
    """Snapshot 'purged': 'old-line' with every package purged."""
    machine = old_line.machine
    session.restore_machine(machine, old_line.state("old-line"))
    sh(machine, pkgdb(machine).purge(old_line.old.names))
    session.snapshot_machine(machine, old_line.state("purged"))
    return old_line


def test_older_line_installs_and_runs(old_line):
    machine = old_line.machine
    session.restore_machine(machine, old_line.state("old-line"))
    expect_version(machine, old_line.old)
    minion_runs_and_answers(machine)


def test_upgrade_keeps_edits_keys_and_enabled_state(upgraded):
    machine = upgraded.line.machine
    session.restore_machine(machine, upgraded.line.state("upgraded"))
    expect_version(machine, upgraded.line.new)
    command = "tail -n 1 /etc/salt/minion"
    if sh(machine, command).stdout.strip() != LOCAL_EDIT:
        fail(
            machine, "the local edit of /etc/salt/minion kept", sh(machine, command).stdout, command
        )
    if sh(machine, "cat /etc/salt/pki/minion/minion.pub").stdout != upgraded.line.key:
        fail(
            machine, "the minion key kept", "a different key", "cat /etc/salt/pki/minion/minion.pub"
        )
    sh(machine, services(machine).is_enabled("salt-minion"))


def test_upgrade_sets_a_changed_config_aside_beside_the_edit(upgraded):
    # rpm's %config(noreplace) (.rpmnew) and dpkg's kept conffile (.dpkg-dist): where the
    # package's own copy of an edited config changed, the edit stays (the check above) and
    # the new copy lands beside it, whole; where it did not change, nothing is set aside.
    machine = upgraded.line.machine
    session.restore_machine(machine, upgraded.line.state("upgraded"))
    db = pkgdb(machine)
    packaged = sh(machine, db.packaged_digest(CONFIG)).stdout.strip()
    aside = db.new_config_set_aside(CONFIG)
    if packaged == upgraded.line.config_digest:
        command = f"ls {aside} 2>/dev/null || true"
        expect_silent(machine, "a copy set aside of a config the upgrade did not change", command)
        pytest.skip(
            f"both lines ship the same {CONFIG}, and no {aside} was made: nothing to set "
            "aside (tests/test_defects.py's config-changes variant changes it)"
        )
    command = f"{'sha256sum' if len(packaged) == 64 else 'md5sum'} {aside}"
    found = sh(machine, command, expect_ok=False).stdout.split()[:1]
    if found != [packaged]:
        expected = f"the upgrade's own {CONFIG} set aside as {aside} (digest {packaged})"
        fail(machine, expected, found[0] if found else "no such file", command)


def test_upgrade_keeps_the_salt_pip_extras(upgraded):
    # salt#63675: extras an admin installed must outlive an upgrade of the package. salt#69526:
    # where the upgrade changes the payload's Python minor, the pure-Python ones move to the
    # new minor's extras, and one line of the upgrade names each built for the old minor
    # with the command that reinstalls it.
    machine, line = upgraded.line.machine, upgraded.line
    needs_salt_pip(line.old)
    needs_salt_pip(line.new)
    session.restore_machine(machine, line.state("upgraded"))
    expect_in_extras(machine)
    old, new = line.old.python_minor, line.new.python_minor
    if old == new:
        expect_in_extras(machine, NATIVE)
        return
    output = upgraded.unattended.stdout + upgraded.unattended.stderr
    wanted = (f"{NATIVE}=={NATIVE_VERSION}", f"salt-pip install {NATIVE}=={NATIVE_VERSION}")
    told = [text for text in output.splitlines() if all(w in text for w in wanted)]
    if len(told) != 1:
        fail(
            machine,
            f"one line of the upgrade from Python {old} to {new} telling the admin to "
            f"reinstall {wanted[0]}, built for {old}: `{wanted[1]}`",
            f"{len(told)} such lines; the upgrade's last lines: "
            + " | ".join(output.strip().splitlines()[-4:]),
            f"ls {prefix(machine)}/extras-{old} {prefix(machine)}/extras-{new}",
        )


def test_unattended_upgrade_over_an_edited_conffile_neither_asks_nor_hangs(upgraded):
    # salt#60949: with /etc/salt/minion edited, the upgrade runs with no terminal, no answer
    # to a conffile question and a 600 s limit (the edit kept: the test above).
    result = upgraded.unattended
    if result.exit_status != 0:
        output = (result.stdout + result.stderr).strip().splitlines()
        fail(
            upgraded.line.machine,
            "an upgrade with no terminal and no conffile answers to finish on its own",
            f"exit {result.exit_status} after {upgraded.seconds:.0f}s: " + " | ".join(output[-4:]),
            "grep -B2 -A8 'Configuration file' /var/log/apt/term.log",
        )


def test_upgrade_restarts_the_running_minion_on_the_new_interpreter(upgraded):
    machine = upgraded.line.machine
    if upgraded.pid in ("0", upgraded.pid_before) or upgraded.pid_before == "0":
        fail(
            machine,
            "a running salt-minion replaced by a new process by the upgrade",
            f"MainPID {upgraded.pid_before} before, {upgraded.pid} after",
            services(machine).main_pid("salt-minion"),
        )
    if upgraded.deleted_maps != "0" or "(deleted)" in upgraded.exe:
        fail(
            machine,
            "the minion running files of the new package only",
            f"exe {upgraded.exe}, {upgraded.deleted_maps} deleted mappings",
            deleted_files_mapped(f"$({services(machine).main_pid('salt-minion')})"),
        )


def test_an_upgrade_has_restarted_the_minion_when_the_package_manager_returns(upgraded):
    """As dh_installsystemd's scripts do: an admin, or Salt's own upgrade test, that stops
    the daemons right after the upgrade finds no restart of the package still queued, which
    would start one again behind their back, or stop one they just started."""
    machine = upgraded.line.machine
    if upgraded.pending is None:
        supported(services(machine).slow_stop, "salt-minion")  # skips, with the reason
    if upgraded.pending:
        fail(
            machine,
            "no restart of our units still queued when the package manager returned "
            "(the minion slowed to stop in 5 s)",
            upgraded.pending,
            services(machine).pending(),
        )


def test_an_upgrade_ordered_by_the_master_finishes_and_the_minion_comes_back(self_upgraded):
    up = self_upgraded
    machine, new = up.line.machine, up.line.new
    if not up.came_back:
        fail(
            machine,
            f"minion {up.minion_id} back on its own with Salt {new.salt_version} after the "
            "master had it upgrade its own packages",
            f"no such answer after {up.seconds:.0f}s; the job: {up.job[-300:]}",
            f"{services(machine).status('salt-minion')}; tail -n 30 /var/log/salt/minion",
        )
    expect_version(machine, new)
    command = supported(pkgdb(machine).unfinished, new.names)
    expect_silent(machine, "package left half-installed", command, must_succeed=False)


def test_upgrade_keeps_each_units_enabled_masked_and_stopped_state(upgraded):
    machine, new = upgraded.line.machine, upgraded.line.new
    # Round 0 first: a package already seen to change a unit fails without four more rounds.
    expect_service_choices_kept(machine, "upgrade", {0: upgraded.services})
    rounds = states_after_each_round(machine, upgraded.line.state("old-line"), new.install)
    expect_service_choices_kept(machine, "upgrade", {0: upgraded.services, **rounds})


def test_downgrade_back_to_the_older_line_works(downgraded):
    machine = downgraded.line.machine
    session.restore_machine(machine, downgraded.line.state("downgraded"))
    expect_version(machine, downgraded.line.old)
    minion_runs_and_answers(machine)


def test_downgrade_keeps_each_units_enabled_masked_and_stopped_state(downgraded):
    machine, old = downgraded.line.machine, downgraded.line.old
    expect_service_choices_kept(machine, "downgrade", {0: downgraded.services})
    rounds = states_after_each_round(
        machine, downgraded.line.state("upgraded"), lambda m: old.install(m, downgrade=True)
    )
    expect_service_choices_kept(machine, "downgrade", {0: downgraded.services, **rounds})


def test_remove_stops_the_service_and_leaves_nothing_in_opt_salt(old_line):
    machine, old = old_line.machine, old_line.old
    session.restore_machine(machine, old_line.state("old-line"))
    sh(machine, pkgdb(machine).remove(old.names))
    command = "pgrep -af '[s]alt-(minion|master)' || true"
    expect_silent(machine, "salt process after removal", command)
    root = prefix(machine)
    command = f"find {root} 2>/dev/null || true"
    expect_silent(machine, f"file left under {root} after removal", command)
    names = [c.package for c in machine.spec.conflicts]
    expect_unchanged(machine, "a distro conflict package after removal", names)
    expect_edit_kept_after_removal(machine, purge=False)


def expect_edit_kept_after_removal(machine: Machine, purge: bool) -> None:
    """The admin's edit of /etc/salt/minion where the package manager keeps it: in place
    after dpkg's remove, as .rpmsave after rpm's erase (rpm has no purge)."""
    kept = pkgdb(machine).edited_config_after_removal(CONFIG, purge)
    if kept is None:
        return
    command = f"tail -n 1 {kept}"
    found = sh(machine, command, expect_ok=False)
    if found.stdout.strip() != LOCAL_EDIT:
        fail(machine, f"the edited /etc/salt/minion kept as {kept}", found.stdout, command)


def test_purge_removes_the_configs(purged):
    machine = purged.machine
    session.restore_machine(machine, purged.state("purged"))
    # What the daemons made (keys) goes with a purge; rpm's erase leaves it to the admin.
    erase = pkgdb(machine).edited_config_after_removal(CONFIG, True) is not None
    paths = "/etc/salt/minion /etc/salt/master" + ("" if erase else " /etc/salt/pki")
    command = f"ls {paths} 2>/dev/null || true"
    expect_silent(machine, "config left after purge", command)
    expect_edit_kept_after_removal(machine, purge=True)


def test_reinstall_after_purge_works(purged):
    machine = purged.machine
    session.restore_machine(machine, purged.state("purged"))
    purged.new.install(machine)
    minion_on_as_the_policy_or_the_admin_leaves_it(machine)
    minion_runs_and_answers(machine)
