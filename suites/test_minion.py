"""salt-minion operation: our minion, started by the init system, serves a real salt-master
(our package, on a second box of the same release) over the bridge."""

from __future__ import annotations

import json
import shlex

import pytest
from checks import (
    expect_none,
    expect_silent,
    fail,
    lines,
    main_pid,
    needs_service,
    pkgdb,
    platform_of,
    prefix,
    salt,
    services,
    sh,
    supported,
    tool_path,
)

from verification.salt import wait_until

STATE_TREE = {
    "/srv/salt/top.sls": "base:\n  '*':\n    - harness\n",
    "/srv/salt/harness.sls": (
        "harness-dir:\n  file.directory:\n    - name: /var/tmp/harness-state\n    - mode: '0750'\n"
        "harness-file:\n  file.managed:\n    - name: /var/tmp/harness-state/managed.txt\n"
        "    - contents: managed by salt\n    - require:\n      - file: harness-dir\n"
        "harness-once:\n  cmd.run:\n    - name: date > /var/tmp/harness-state/ran-once\n"
        "    - creates: /var/tmp/harness-state/ran-once\n"
        "    - require:\n      - file: harness-dir\n"
    ),
}


@pytest.mark.smoke
def test_minion_service_is_enabled_and_running(installed, packages):
    # The distribution's policy: Debian's packages enable and start their daemons; EL's
    # presets leave every unit disabled and stopped until the admin says otherwise.
    machine = installed
    needs_service(machine, "salt-minion")
    starts = platform_of(machine).starts_on_install
    for wanted, query in (
        (
            "enabled" if starts else "disabled",
            supported(services(machine).is_enabled, "salt-minion"),
        ),
        ("active" if starts else "inactive", supported(services(machine).is_active, "salt-minion")),
    ):
        result = sh(machine, query, expect_ok=False)
        if result.stdout.strip() != wanted:
            status = sh(machine, services(machine).status("salt-minion"), expect_ok=False)
            fail(
                machine,
                f"salt-minion {wanted} after install (the distribution's policy)",
                f"{result.stdout.strip()}\n{status.stdout}",
                query,
            )


@pytest.mark.smoke
def test_minion_process_runs_the_opt_salt_interpreter(request, installed):
    needs_service(installed, "salt-minion")
    if not platform_of(installed).starts_on_install:  # the suite's minion, started by hand
        request.getfixturevalue("minion")
    pid = main_pid(installed, "salt-minion")
    command = (
        f"tr '\\0' ' ' < /proc/{pid}/cmdline; echo; "
        f"tr '\\0' '\\n' < /proc/{pid}/environ | grep ^PYTHON || true"
    )
    argv, *python_env = sh(installed, command).stdout.splitlines()
    python = f"{prefix(installed)}/bin/python"
    if not argv.startswith(python):
        fail(installed, f"the minion process running {python}", argv, command)
    expect_none(installed, "PYTHON* variable in the minion's environment", command, python_env)


def test_key_is_accepted_and_test_ping_answers(minion):
    accepted = json.loads(sh(minion.master.machine, "salt-key -l acc --out=json").stdout)
    if minion.id not in accepted.get("minions", []):
        fail(
            minion.master.machine,
            f"{minion.id} among the accepted keys",
            str(accepted),
            "salt-key -L",
        )
    assert salt(minion, "test.ping") is True


def test_grains_match_the_box(minion):
    grains = salt(
        minion, "grains.item", "os_family", "osmajorrelease", "pythonexecutable", "pythonpath"
    )
    spec = minion.machine.spec
    expected: dict[str, object] = {"osmajorrelease": int(spec.release)}
    if spec.salt_os_family:  # none on the glibc 2.17 box: no distribution Salt knows
        expected["os_family"] = spec.salt_os_family
    found = {k: grains.get(k) for k in expected}
    if found != expected:
        fail(
            minion.master.machine,
            f"grains {expected}",
            str(found),
            f"salt {minion.id} grains.items",
        )
    root = prefix(minion.machine)
    if not grains["pythonexecutable"].startswith(f"{root}/"):
        fail(
            minion.master.machine,
            f"the minion's pythonexecutable in {root}",
            grains["pythonexecutable"],
            f"salt {minion.id} grains.item pythonexecutable",
        )
    outside = [
        p
        for p in grains["pythonpath"]
        if p
        and not p.startswith(f"{root}/")
        and ("site-packages" in p or "dist-packages" in p or ".local" in p)
    ]
    expect_none(
        minion.master.machine,
        f"site/dist-packages outside {root} in the service's sys.path",
        f"salt {minion.id} grains.item pythonpath",
        outside,
    )


def test_cmd_run_returns_output(minion):
    assert salt(minion, "cmd.run", "echo $((6 * 7))") == "42"


def test_pkg_functions_see_the_distro_conflict_packages(minion):
    spec = minion.machine.spec
    module = supported(pkgdb(minion.machine).salt_pkg_module)
    tornado = next((c for c in spec.conflicts if c.module == "tornado"), None)
    if tornado is None:
        pytest.skip(f"{spec.name} has no distribution tornado (no [[conflicts]] in its catalog)")
    installed = salt(minion, "pkg.list_pkgs")
    if tornado.package not in installed:
        fail(
            minion.master.machine,
            f"{tornado.package} in pkg.list_pkgs (Salt's {module})",
            f"{len(installed)} packages, not it",
            f"salt {minion.id} pkg.list_pkgs",
        )
    version = salt(minion, "pkg.version", tornado.package)
    if not version.split(":")[-1].startswith(tornado.version.rsplit(".0", 1)[0]):
        fail(
            minion.master.machine,
            f"{tornado.package} {tornado.version}",
            version,
            f"salt {minion.id} pkg.version {tornado.package}",
        )


def test_service_status_reports_the_minion_itself(minion):
    supported(services(minion.machine).is_active, "salt-minion")
    if minion.machine.spec.salt_os_family is None:
        pytest.skip(
            f"Salt knows no distribution on {minion.machine.spec.name}, so none of its "
            "modules for a distribution's init system loads there"
        )
    supported(services(minion.machine).salt_service_module)
    assert salt(minion, "service.status", "salt-minion") is True
    assert salt(minion, "service.enabled", "salt-minion") is True


def state_returns(returned):
    """Each state's return. Salt 3000 adds the job's exit status to them (as "retcode"
    under --static): a non-zero one is a failure of its own."""
    if isinstance(returned, dict) and isinstance(returned.get("retcode"), int):
        returned = dict(returned)
        code = returned.pop("retcode")
        if code:
            returned[f"the job's retcode {code}"] = {"result": False, "changes": {}}
    return returned


def test_state_apply_succeeds_and_is_idempotent(minion):
    master = minion.master.machine
    for path, text in STATE_TREE.items():
        master.write_text(path, text)
    first = state_returns(salt(minion, "state.apply", timeout=120))
    failed = (
        [k for k, v in first.items() if not v["result"]]
        if isinstance(first, dict)
        else [str(first)]
    )
    expect_none(master, "failed state", f"salt {minion.id} state.apply", failed)
    second = state_returns(salt(minion, "state.apply", timeout=120))
    changed = [k for k, v in second.items() if v["changes"] or not v["result"]]
    expect_none(
        master,
        "change on the second state.apply (not idempotent)",
        f"salt {minion.id} state.apply",
        changed,
    )
    assert (
        sh(minion.machine, "cat /var/tmp/harness-state/managed.txt").stdout.strip()
        == "managed by salt"
    )


def test_minion_reconnects_after_a_service_restart(minion):
    before = main_pid(minion.machine, "salt-minion")
    minion.restart()
    assert main_pid(minion.machine, "salt-minion") != before
    assert salt(minion, "test.ping") is True


# Salt's own bound for an admin's stop of salt-minion (tests/pytests/pkg, graceful stop).
STOP_WITHIN_S = 20
# Every process of a minion: the daemon, its process manager's children and its jobs
# (each names itself after salt-minion's command line). Not the check's own timeout: busybox's
# watches its command from a process of its own for up to a second after it ends.
MINION_PROCESSES = "ps -eo pid,args | grep '[s]alt-minion' | grep -v '^ *[0-9]* timeout ' || true"
MINION_JOBS = "/var/cache/salt/minion/proc/"
# A job's child that ignores SIGTERM, as a hung command does: the minion's stop must not leave
# it behind (salt#68406: KillMode=process did, and orphans piled up over restarts).
STUBBORN = "sleep 3017"
STUBBORN_JOB = f"trap '' TERM; {STUBBORN}"
STUBBORN_LEFT = "ps -eo pid,args | grep '[s]leep 3017' || true"


def test_minion_stops_gracefully_and_leaves_no_process(minion):
    """Jobs run when the admin stops the minion (test.sleep, and a command whose process
    ignores SIGTERM): the stop ends in time, the init system calls it a success, and no
    process of the minion or of its jobs is left."""
    machine = minion.machine
    stop = supported(services(machine).stop_outcome, "salt-minion")
    minion.master.machine.run(f"salt --async {minion.id} test.sleep 300 >/dev/null")
    job = shlex.quote(STUBBORN_JOB)
    minion.master.machine.run(f"salt --async {minion.id} cmd.run {job} >/dev/null")
    # A running job has its file in the minion's proc directory (process titles name it
    # only where setproctitle is bundled: not in Salt 3005's payload).
    if not wait_until(machine, f"ls {MINION_JOBS} | grep -q .", 30):
        fail(machine, "the test.sleep job running on the minion", "none", MINION_PROCESSES)
    if not wait_until(machine, f"ps -eo args | grep -q '^{STUBBORN}'", 30):
        fail(machine, f"the job's `{STUBBORN}` running on the minion", "none", STUBBORN_LEFT)
    # /proc/uptime, not date +%N: busybox's date has no nanoseconds.
    timed = (
        "start=$(cut -d' ' -f1 /proc/uptime); "
        f"out=$(timeout {STOP_WITHIN_S + 10} sh -c {shlex.quote(stop)}) || out='124 timeout'; "
        "end=$(cut -d' ' -f1 /proc/uptime); "
        'echo "$out $(awk -v a=$start -v b=$end \'BEGIN { printf "%d", (b - a) * 1000 }\')"'
    )
    try:
        rc, result, took_ms = sh(machine, timed, timeout=120).stdout.split()
        left = lines(machine, MINION_PROCESSES) + lines(machine, STUBBORN_LEFT)
    finally:
        minion.restart(kill=True)
    if (rc, result) != ("0", "success") or int(took_ms) > STOP_WITHIN_S * 1000:
        found = f"exit {rc}, result {result}, after {int(took_ms) / 1000:.1f} s"
        fail(machine, f"a successful stop within {STOP_WITHIN_S} s", found, stop)
    expect_none(machine, "process of the minion or its job after the stop", stop, left)


@pytest.mark.parametrize("change", ["upgrade", "downgrade", "remove"])
def test_minion_keeps_working_when_a_distro_conflict_package_changes(minion, change):
    """python3-tornado changed under the minion: upgraded (a rebuilt higher version),
    downgraded back, removed; the .debs come from the image (the box has no network)."""
    machine = minion.machine
    tornado = next((c.package for c in machine.spec.conflicts if c.module == "tornado"), None)
    if tornado is None:
        pytest.skip(f"{machine.spec.name} has no distribution tornado to change")
    sh(machine, supported(pkgdb(machine).change_distro_package, tornado, change))
    try:
        minion.restart(kill=True)  # a new process imports afresh; the restart check stops cleanly
        assert salt(minion, "test.ping") is True
        assert salt(minion, "cmd.run", "echo alive") == "alive"
    finally:
        if change == "remove":
            sh(machine, pkgdb(machine).change_distro_package(tornado, "reinstall"))


def test_minion_log_has_no_tracebacks(minion):
    command = "grep -n -A3 Traceback /var/log/salt/minion || true"
    expect_silent(minion.machine, "traceback in the minion log", command)


@pytest.mark.smoke
def test_salt_call_local_works_without_a_master(installed):
    command = f"{tool_path(installed, 'salt-call')} --local --out=json test.ping"
    reply = json.loads(sh(installed, command).stdout)
    if reply != {"local": True}:
        fail(installed, '{"local": true}', str(reply), command)


def test_salt_minion_version_through_the_wrapper(installed, packages):
    command = f"{tool_path(installed, 'salt-minion')} --version"
    out = sh(installed, command).stdout.strip()
    # 3006 and later add the release's code name: "salt-minion 3006.9 (Sulfur)".
    if out.split(" (")[0] != f"salt-minion {packages.salt_version}":
        fail(installed, f"salt-minion {packages.salt_version}", out, command)
