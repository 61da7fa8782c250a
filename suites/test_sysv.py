"""The SysV init scripts of our packages, run as an admin runs them: each daemon's script,
through every action, with the exit codes LSB asks of an init script (status: 0 running, 1
dead with a pid file, 2 dead with a lock file (EL's rc), 3 stopped; start of a running and
stop of a stopped service: 0; an unknown action: 2; an unimplemented one: 3).

EL5 and EL6 run their daemons by these scripts. Our DEBs carry one for each daemon too, as
Salt's do, for a Debian booted with sysvinit: under systemd they run with the hand-over to
the unit switched off, the daemon's unit stopped first. Boxes whose daemons are units only
(EL7's RPMs), or that have no init system, skip, naming the boxes where the scripts run."""

from __future__ import annotations

import pytest
from checks import (
    configure_api,
    fail,
    interpreter,
    main_pid,
    needs_service,
    prefix,
    services,
    sh,
    supported,
)

from builds import layout
from harness.transport import Machine

LSB_STOPPED, LSB_DEAD_PIDFILE, LSB_DEAD_LOCKED, LSB_USAGE, LSB_UNIMPLEMENTED = 3, 1, 2, 2, 3
STALE_PID = 999999  # above the default pid_max: no process has it


def script(machine: Machine, daemon: str) -> str:
    """DAEMON's init script, the daemon stopped by the box's init system (a Debian box's
    package started its unit); skips where the box has none, or the packages bring none."""
    path = supported(services(machine).init_script, daemon)
    needs_service(machine, daemon)
    # A daemon stopped while it started (the boot of the restored box starts it), or one
    # that found nothing to do (salt-api without a netapi), leaves its pid file.
    sh(machine, f"{services(machine).stop(daemon)} && rm -f /var/run/{daemon}.pid")
    return path


def run(machine: Machine, command: str):
    result = sh(machine, command, expect_ok=False, timeout=120)
    return result.exit_status, (result.stdout + result.stderr).strip()


def expect_exit(machine: Machine, command: str, wanted: int, why: str):
    code, output = run(machine, command)
    if code != wanted:
        fail(machine, f"`{command}` to exit {wanted} ({why})", f"exit {code}: {output}", command)
    return output


def pid_of(machine: Machine, daemon: str) -> str:
    return sh(machine, f"cat /var/run/{daemon}.pid 2>/dev/null || true").stdout.strip()


def running_pid(machine: Machine, daemon: str, path: str) -> str:
    """The daemon's pid, which `status` reports as soon as a start (or restart) returned:
    salt's -d returns before the daemon writes its pid file, and a script that does not wait
    for it makes a status, a stop or the boot's rc right after its start miss the daemon."""
    code, output = run(machine, f"{path} status")
    if code != 0:
        fail(
            machine,
            f"`{path} status` to say running as soon as the start returned (exit 0)",
            f"exit {code}: {output}",
            f"{path} restart; {path} status",
        )
    return pid_of(machine, daemon)


def expect_the_prefix_python(machine: Machine, daemon: str, pid: str) -> None:
    """The daemon runs the prefix's Python: the interpreter its bin/python resolves to (a
    bundled one inside it, or the system's a venv links to), started as PREFIX/bin/python."""
    root = prefix(machine)
    command = (
        f"readlink /proc/{pid}/exe; readlink -f {interpreter(machine)}; "
        f"tr '\\0' '\\n' < /proc/{pid}/cmdline | head -n 1"
    )
    exe, python, argv0 = [*sh(machine, command).stdout.splitlines(), "", "", ""][:3]
    if exe != python or not argv0.startswith(f"{root}/bin/python"):
        found = f"exe {exe}, argv[0] {argv0}"
        fail(machine, f"{daemon} to run {python} as {root}/bin/python", found, command)


def leftover(machine: Machine, daemon: str) -> list[str]:
    """Processes of the daemon still running: the daemon and its jobs name PREFIX/bin/DAEMON
    (the wrapper in /usr/bin execs it) on their command line."""
    command = f"ps -eo pid,args | grep -E '/bin/{daemon}( |$)' || true"
    return [line for line in sh(machine, command).stdout.splitlines() if line.strip()]


@pytest.mark.parametrize("daemon", layout.DAEMONS)
def test_init_script_reports_a_stopped_daemon_and_refuses_bad_actions(fresh, daemon):
    machine = fresh
    path = script(machine, daemon)
    output = expect_exit(machine, f"{path} status", LSB_STOPPED, "program is not running")
    assert f"{daemon} is stopped" in output, output
    expect_exit(machine, f"{path} stop", 0, "stopping a stopped daemon succeeds")
    expect_exit(machine, f"{path} no-such-action", LSB_USAGE, "invalid or excess arguments")
    expect_exit(machine, f"{path} reload", LSB_UNIMPLEMENTED, "unimplemented feature")
    # A pid file whose process is gone, then only the subsystem lock.
    sh(machine, f"echo {STALE_PID} > /var/run/{daemon}.pid")
    expect_exit(machine, f"{path} status", LSB_DEAD_PIDFILE, "dead, the pid file exists")
    sh(machine, f"rm -f /var/run/{daemon}.pid")
    if services(machine).subsys_locks:  # EL's rc; Debian's keeps none
        sh(machine, f"touch /var/lock/subsys/{daemon}")
        expect_exit(machine, f"{path} status", LSB_DEAD_LOCKED, "dead, the lock file exists")


@pytest.mark.parametrize("daemon", layout.DAEMONS)
def test_init_script_starts_restarts_and_stops_its_daemon(fresh, daemon):
    machine = fresh
    path = script(machine, daemon)
    configure_api(machine)  # salt-api serves nothing, and exits, without one
    expect_exit(machine, f"{path} start", 0, "start")
    first = running_pid(machine, daemon, path)
    expect_the_prefix_python(machine, daemon, first)
    expect_exit(machine, f"{path} start", 0, "starting a running daemon succeeds")
    assert pid_of(machine, daemon) == first, "a second start replaced the running daemon"
    expect_exit(machine, f"{path} restart", 0, "restart")
    second = running_pid(machine, daemon, path)
    assert second != first, f"restart left the same process {first} running"
    expect_exit(machine, f"{path} stop", 0, "stop")
    expect_exit(machine, f"{path} status", LSB_STOPPED, "stopped after stop")
    found = leftover(machine, daemon)
    if found:
        fail(
            machine, f"no {daemon} process after `{path} stop`", "\n".join(found), "ps -eo pid,args"
        )
    files = f"/var/lock/subsys/{daemon} /var/run/{daemon}.pid"
    expect_exit(
        machine,
        f"for f in {files}; do ! test -e $f || exit 1; done",
        0,
        "stop removes its lock and pid files",
    )


@pytest.mark.parametrize("daemon", layout.DAEMONS)
def test_the_admins_commands_drive_the_script(fresh, daemon):
    """What an admin types on EL6 (the platform's enable, start, status, stop), and the
    script's condrestart, which the packages' %posttrans runs after an upgrade."""
    machine = fresh
    path = script(machine, daemon)
    init = services(machine)
    if not init.script_runs_the_daemon:
        pytest.skip(
            f"{machine.spec.name}: an EL admin's commands drive EL's scripts; here they go "
            "to the unit (next test)"
        )
    configure_api(machine)
    sh(machine, init.enable(daemon))
    expect_exit(machine, init.is_enabled(daemon), 0, "enabled")
    expect_exit(machine, init.start(daemon), 0, "start")
    first = running_pid(machine, daemon, path)
    expect_exit(machine, init.is_active(daemon), 0, "running")
    expect_exit(machine, f"{path} condrestart", 0, "condrestart of a running one")
    assert running_pid(machine, daemon, path) != first, "condrestart did not restart it"
    expect_exit(machine, init.stop(daemon), 0, "stop")
    expect_exit(machine, f"{path} condrestart", 0, "condrestart of a stopped one")
    expect_exit(machine, init.is_active(daemon), LSB_STOPPED, "condrestart left it stopped")
    sh(machine, init.disable(daemon))
    code, output = run(machine, init.is_enabled(daemon))
    if code == 0:
        fail(machine, f"{daemon} disabled", output, init.is_enabled(daemon))


@pytest.mark.parametrize("daemon", layout.DAEMONS)
def test_under_systemd_the_script_drives_the_unit_and_sysvinit_finds_it(fresh, daemon):
    """A Debian admin's /etc/init.d/DAEMON under systemd: each action goes to the unit
    (init-functions hands it over). And the package linked the script into the runlevels
    (update-rc.d), where a box booted with sysvinit starts it."""
    machine = fresh
    script(machine, daemon)
    init = services(machine)
    if init.script_runs_the_daemon:
        pytest.skip(f"{machine.spec.name}: the script itself runs its daemons (tests above)")
    configure_api(machine)
    admin = f"/etc/init.d/{daemon}"
    expect_exit(machine, f"{admin} start", 0, "start")
    expect_exit(machine, init.is_active(daemon), 0, "its unit running after the script's start")
    first = main_pid(machine, daemon)
    expect_exit(machine, f"{admin} restart", 0, "restart")
    second = main_pid(machine, daemon)
    if second in ("0", first):
        found = f"MainPID {first}, then {second}"
        fail(machine, f"{admin} restart to restart the unit", found, init.main_pid(daemon))
    expect_exit(machine, f"{admin} status", 0, "status of the running unit")
    expect_exit(machine, f"{admin} stop", 0, "stop")
    expect_exit(machine, init.is_active(daemon), LSB_STOPPED, "its unit stopped by the script")
    links = f"ls /etc/rc2.d/S[0-9][0-9]{daemon} /etc/rc0.d/K[0-9][0-9]{daemon}"
    expect_exit(machine, links, 0, "start links in runlevel 2 and stop links in 0 (update-rc.d)")
