"""Permissions and ownership (salt#65264, salt#65164) and use by an unprivileged user
(salt#68294, salt#65317): our files give no user more than root meant them to, the key
store is private to the daemon that made it, and a user without root runs Salt's tools."""

from __future__ import annotations

import json

import pytest
from checks import (
    configure_api,
    expect_none,
    expect_silent,
    fail,
    isolated,
    layout,
    lines,
    main_pid,
    platform_of,
    prefix,
    services,
    sh,
    supported,
    tool_path,
)

from harness.transport import Machine
from verification.salt import start_as_an_admin, wait_until

# Where the daemons keep files; the packages' prefix (ours: /opt/salt) comes first.
SALT_TREES = "/etc/salt /var/cache/salt /var/log/salt /run/salt"
PKI = "/etc/salt/pki"
NON_ROOT = "nobody"


def our_trees(machine: Machine) -> str:
    return f"{prefix(machine)} {SALT_TREES}"


def test_nothing_of_ours_is_world_writable_setuid_or_setgid(installed):
    command = (
        f"find {our_trees(installed)} ! -type l \\( -perm -0002 -o -perm -4000 -o -perm -2000 \\) "
        "2>/dev/null || true"
    )
    expect_silent(installed, "world-writable, setuid or setgid file", command)


# What each daemon runs as and the state it keeps, as Salt resolves its configuration (Python
# 2.7 and 3 alike): root unless the packages' configuration names another user, as Salt's
# onedir packages do for salt-master (user: salt). The syndic takes the master's user
# (or syndic_user) and the minion's key store and extension modules.
DAEMON_STATE = """import json, os.path, salt.config as c
m, n = "/etc/salt/master", "/etc/salt/minion"
roles = {"master": c.master_config(m), "minion": c.minion_config(n),
         "syndic": c.syndic_config(m, n), "api": c.api_config(m)}
keys = ("pki_dir", "cachedir", "sock_dir", "log_file", "key_logfile", "pidfile",
        "extension_modules", "api_logfile", "api_pidfile")
found = {}
for role, opts in roles.items():
    paths = [os.path.realpath(opts[k]) for k in keys if isinstance(opts.get(k), str)]
    found[role] = [opts.get("user") or "root"] + paths
print(json.dumps(found))"""
# The role whose configuration each daemon runs by.
ROLE_OF = {"salt-master": "master", "salt-api": "api", "salt-syndic": "syndic"}


def daemon_state(machine: Machine) -> dict[str, tuple[str, list[str]]]:
    """role: (the user its daemons run as, the paths of state they keep)."""
    found = json.loads(sh(machine, f"{isolated(machine)} -c '{DAEMON_STATE}'").stdout)
    return {role: (values[0], values[1:]) for role, values in found.items()}


def others_run_daemons(machine: Machine, group: str) -> bool:
    """Does a daemon run as a user other than root, and is GROUP that user's (or root's,
    where no package manager applied the packages' groups)?"""
    others = {user for user, _ in daemon_state(machine).values()} - {"root"}
    return bool(others) and group in others | {"root"}


def others_own(machine: Machine) -> list[tuple[str, str, str]]:
    """(user, group, path) a file of ours may belong to beside root:root: a daemon that runs
    as another user owns its own state, and the key store above its keys is root's with
    that user's group, so that it can reach them."""
    allowed = []
    for user, paths in daemon_state(machine).values():
        if user != "root":
            allowed += [(user, user, path) for path in paths]
            allowed.append(("root", user, PKI))
    return allowed


def allowed_owner(row: str, allowed: list[tuple[str, str, str]]) -> bool:
    user, group, path = row.split(" ", 2)
    return any(
        user == u and group in (g, "root") and (path == p or path.startswith(p.rstrip("/") + "/"))
        for u, g, p in allowed
    )


def test_every_file_of_ours_is_roots_but_a_daemon_users_own_state(installed):
    # The daemons run as root, so what they make is root's too; a package that runs one as
    # another user (Salt's onedir master) says so in its configuration: that user owns the
    # state that daemon keeps, and nothing else.
    command = (
        f"find {our_trees(installed)} /usr/bin/salt* /usr/bin/spm ! \\( -user root -group root \\) "
        "-exec stat -c '%U %G %n' {} + 2>/dev/null || true"
    )
    found = lines(installed, command)
    if found:  # Salt's configuration is read only where something is not root's
        allowed = others_own(installed)
        found = [row for row in found if not allowed_owner(row, allowed)]
    expect_none(
        installed, "file of ours not owned by root:root nor its daemon's user", command, found
    )


def daemon_user(machine: Machine, unit: str) -> str:
    """The user `unit`'s running daemon runs as (skips where it does not run)."""
    pid = sh(machine, supported(services(machine).main_pid, unit)).stdout.strip()
    if pid in ("", "0"):
        pytest.skip(f"{unit} does not run on {machine.name}: nothing made its keys")
    return sh(machine, f"stat -c %U /proc/{pid}").stdout.strip()


def expect_private_keys(machine: Machine, role: str, user: str):
    """PKI/ROLE is 0700, private keys 0400 or 0600, all of it owned by `user`. PKI is 0700
    too, but where a daemon runs as another user than root: then that user's group may
    enter it (0750 or 0710), and others still may not."""
    keys = f"{PKI}/{role}"
    stat = "stat -c '%a %U %G %n'"
    command = f"{stat} {PKI} && find {keys} ! -type l -exec {stat} {{}} +"
    found = []
    for line in sh(machine, command).stdout.splitlines():
        mode, owner, group, path = line.split(" ", 3)
        private = 0o077 if path in (PKI, keys) else 0o177 if path.endswith(".pem") else 0
        if path == PKI and private & int(mode, 8) and others_run_daemons(machine, group):
            private = 0o027  # that user's group enters it, reads nothing of it
        if int(mode, 8) & private:
            found.append(f"{path} is {mode} ({owner}:{group})")
        if owner != user and path != PKI:
            found.append(f"{path} is owned by {owner}, the daemon runs as {user}")
    expect_none(machine, f"key file or directory readable by others than {user}", command, found)


def needs_the_users(machine: Machine, users: set[str]) -> None:
    """Skip where a daemon's configured user is not on the box: the packages' scripts make
    it (Salt's onedir: salt), and a box without a package manager runs none of them."""
    missing = sorted(
        u for u in users if sh(machine, f"grep -q '^{u}:' /etc/passwd", False).exit_status
    )
    if missing:
        pytest.skip(
            f"{machine.name} has no user {', '.join(missing)}, which Salt's configuration names "
            "and the packages' scripts make: this box installs them without their scripts"
        )


def test_master_keys_are_private_to_the_master(request, installed):
    needs_the_users(installed, {daemon_state(installed)["master"][0]})
    if not platform_of(installed).starts_on_install:
        # EL's policy (or no init): the master runs once the admin starts it; the box goes
        # back to its installed state afterwards.
        request.getfixturevalue("fresh")
        start_as_an_admin(installed, "salt-master")
        wait_until(installed, "test -s /etc/salt/pki/master/master.pub", 60)
    expect_private_keys(installed, "master", daemon_user(installed, "salt-master"))


def test_minion_keys_are_private_to_the_minion(minion):
    expect_private_keys(minion.machine, "minion", daemon_user(minion.machine, "salt-minion"))


PROCESSES = "ps -e -o pid=,ppid=,user=,args="


def descendants(table: list[list[str]], pid: str) -> list[list[str]]:
    """The rows of `pid` and of every process under it, from rows pid, ppid, user, args."""
    found, frontier = [], {pid}
    while frontier:
        rows = [row for row in table if row[0] in frontier]
        found += rows
        frontier = {row[0] for row in table if row[1] in frontier}
    return found


def test_every_process_of_every_daemon_runs_as_its_configured_user(fresh):
    # The decision (README): our daemons run as root, as the distributions' salt packages
    # did; Salt's onedir packages run salt-master and salt-api as the user their
    # configuration names. Each started as an admin would, then every process under its
    # main PID: the master's workers, the minion's keepalive child, the api's server.
    machine = fresh
    configure_api(machine)
    daemons = layout(machine).daemons
    if not daemons:
        pytest.skip(
            f"the packages on {machine.name} bring no unit or init script of Salt's daemons"
        )
    users = {role: user for role, (user, _) in daemon_state(machine).items()}
    needs_the_users(machine, {users[ROLE_OF.get(unit, "minion")] for unit in daemons})
    for unit in daemons:
        sh(machine, services(machine).restart(unit))
    sh(machine, "sleep 5")  # the master forks its workers after it starts
    table = [line.split(None, 3) for line in sh(machine, PROCESSES).stdout.splitlines()]
    found = []
    for unit in daemons:
        pid = main_pid(machine, unit)
        if pid in ("", "0"):
            found.append(f"{unit} is not running after {services(machine).restart(unit)}")
        user = users[ROLE_OF.get(unit, "minion")]
        found += [
            f"{unit}: {row[0]} runs as {row[2]}, its configuration names {user}: {row[3][:80]}"
            for row in descendants(table, pid)
            if row[2] != user
        ]
    expect_none(
        machine, "process of our daemons run by another user than its own", PROCESSES, found
    )


def test_an_unprivileged_user_runs_salt_call_and_the_versions_report(installed):
    if sh(installed, f"command -v su && id {NON_ROOT}", expect_ok=False).exit_status != 0:
        pytest.skip(f"{installed.name} has no su or no user {NON_ROOT}")
    tools = (
        f"{tool_path(installed, 'salt-call')} --version && "
        f"{tool_path(installed, 'salt')} --versions-report"
    )
    command = f"cd /tmp && su -s /bin/sh {NON_ROOT} -c '{tools}' 2>&1"
    result = sh(installed, command, expect_ok=False)
    complaints = [
        line
        for line in result.stdout.splitlines()
        if any(word in line for word in ("Traceback", "Error", "Permission denied"))
    ]
    if result.exit_status != 0 or complaints:
        found = "\n    ".join(complaints or result.stdout.splitlines()[-8:])
        fail(installed, f"user {NON_ROOT} to run `{tools}` cleanly", found, command)
