"""What the sign-off report keeps of each box besides the outcomes (pytest plugin):
the box's fingerprint when it starts, and the logs of the box (and of its master) at the
moment a check fails, under --report-dir (set by `harness verify`)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from harness import platform
from harness.catalog import load_box
from harness.platform import Unsupported
from harness.transport import Machine

from .report_layout import ReportDir

# The tail of each log kept for a failure: enough for the story, small enough to archive.
LOG_LINES = 300
SALT_LOGS = {"minion.log": "/var/log/salt/minion", "master.log": "/var/log/salt/master"}


def pytest_addoption(parser):
    parser.getgroup("harness").addoption(
        "--report-dir",
        default=None,
        help="directory of the sign-off report: box fingerprints and the logs of failures",
    )


def report_dir(config) -> Path | None:
    value = config.getoption("--report-dir", None)
    return Path(value) if value else None


def fingerprint(machine: Machine) -> dict:
    """Release, kernel, init and the versions of the distro's conflict packages as found."""
    spec = machine.spec
    probe = (
        '(. /etc/os-release 2>/dev/null && echo "$PRETTY_NAME") || echo unknown; '
        "uname -r; cat /proc/1/comm"
    )
    release, kernel, init = (machine.run(probe, check=False).stdout.splitlines() + ["?"] * 3)[:3]
    conflicts: dict[str, str] = {}
    names = [c.package for c in spec.conflicts]
    try:
        query = platform.of(spec).packages.installed(names) if names else ""
    except Unsupported:
        query = ""
    if query:
        for line in machine.run(query, check=False).stdout.splitlines():
            name, _, version = line.partition(" ")
            conflicts[name] = version
    found = {"release": release, "kernel": kernel, "init": init, "conflicts": conflicts}
    return found | {"system_python": system_python(machine)}


def system_python(machine: Machine) -> dict[str, str]:
    """The distribution's Python as found; where the box's image built it (no EL7 Python
    is reachable here), what the release it stands for has instead."""
    spec = machine.spec
    if spec.python.path is None:
        return {}
    probe = f"{spec.python.path} -c 'import platform; print(platform.python_version())'"
    found = {"path": spec.python.path, "version": machine.run(probe, check=False).stdout.strip()}
    nspawn = spec.providers.nspawn
    if nspawn is not None and nspawn.system_python is not None:
        real = load_box(spec.packages_box).python.version
        found["built_here"] = (
            f"{nspawn.system_python}'s Python built by the harness with the glibc 2.17 "
            f"toolchain: {found['version']}, where {spec.packages_box} has {real}"
        )
    return found


def record_fingerprint(config, machine: Machine) -> None:
    directory = report_dir(config)
    if directory is None:
        return
    target = ReportDir(directory).fingerprint(machine.spec.name)
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(json.dumps(fingerprint(machine), indent=2))


def _tail(machine: Machine, command: str) -> str:
    result = machine.run(command, check=False, timeout=60)
    return result.stdout + result.stderr


def keep_logs(directory: Path, machine: Machine, master: Machine | None) -> None:
    directory.mkdir(parents=True, exist_ok=True)
    for name, path in SALT_LOGS.items():
        if machine.run(f"test -s {path}", check=False).exit_status == 0:
            (directory / name).write_text(_tail(machine, f"tail -n {LOG_LINES} {path}"))
    journal = platform.of(machine.spec).services.journal(LOG_LINES)
    if journal:
        (directory / "journal.log").write_text(_tail(machine, journal))
    if master is not None and master is not machine:
        path = SALT_LOGS["master.log"]
        (directory / "master-box.log").write_text(_tail(master, f"tail -n {LOG_LINES} {path}"))


def _master_of(item) -> Machine | None:
    for name in ("minion", "signed_in", "master"):
        value = item.funcargs.get(name)
        if value is None:
            continue
        master = getattr(value, "master", value)  # a SaltMinion names its SaltMaster
        return getattr(master, "machine", None)
    return None


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    report = outcome.get_result()
    directory = report_dir(item.config)
    machine = getattr(item, "funcargs", {}).get("machine")
    if directory is None or not report.failed or not isinstance(machine, Machine):
        return
    target = ReportDir(directory).failure_logs(machine.spec.name, item.name)
    try:
        keep_logs(target, machine, _master_of(item))
    except Exception as e:  # the failure itself must reach the report whatever the box did
        target.mkdir(parents=True, exist_ok=True)
        (target / "logs-not-kept.txt").write_text(f"{type(e).__name__}: {e}\n")
