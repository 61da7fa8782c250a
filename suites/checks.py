"""Checks as shell commands on a box, with failure messages an engineer can follow alone:
what was expected, what was found, on which box, and the command that shows it."""

from __future__ import annotations

from collections.abc import Callable, Iterable

import pytest

from harness import platform
from harness.catalog import load_catalog
from harness.errors import HarnessError
from harness.platform import InitSystem, PackageDb, Unsupported
from harness.transport import Machine, Result
from verification import failure_text
from verification.payload_layout import Missing, PayloadLayout
from verification.salt import SaltMaster, SaltMinion

# What ldd does, on every box: busybox roots have the dynamic loader but no ldd script.
LIST_LIBRARIES = "/lib64/ld-linux-x86-64.so.2 --list"

# salt-api serves nothing, and exits, unless a netapi is configured: the admin's config.
API_CONFIG = (
    "/etc/salt/master.d/api.conf",
    "rest_cherrypy:\n  host: 127.0.0.1\n  port: 8000\n  disable_ssl: true\n",
)


def configure_api(machine: Machine) -> None:
    """Give salt-api a netapi to serve (API_CONFIG), as its admin would; a package set
    without salt-master's config directory gets it made."""
    path, text = API_CONFIG
    machine.run(f"mkdir -p {path.rsplit('/', 1)[0]}")
    machine.write_text(path, text)


def fail(machine: Machine, expected: str, found: str, command: str):
    pytest.fail(failure_text.message(machine.name, expected, found, command), pytrace=False)


def sh(machine: Machine, command: str, expect_ok: bool = True, timeout: float = 300) -> Result:
    """Run `command`; when it must succeed and does not, fail with its output."""
    result = machine.run(command, check=False, timeout=timeout)
    if expect_ok and result.exit_status != 0:
        tail = (result.stdout + result.stderr).strip()[-800:]
        fail(machine, f"`{command}` to succeed", f"exit {result.exit_status}: {tail}", command)
    return result


def lines(machine: Machine, command: str) -> list[str]:
    return [line for line in sh(machine, command).stdout.splitlines() if line.strip()]


def expect_none(machine: Machine, what: str, command: str, found: list[str], limit: int = 15):
    """Fail when `found` (the output lines of `command`) is not empty."""
    if found:
        shown = "\n    ".join(found[:limit]) + (
            f"\n    ... {len(found) - limit} more" if len(found) > limit else ""
        )
        fail(machine, f"no {what}", f"{len(found)}:\n    {shown}", command)


def platform_of(machine: Machine) -> platform.Platform:
    return platform.of(machine.spec)


def pkgdb(machine: Machine) -> PackageDb:
    return platform_of(machine).packages


def services(machine: Machine) -> InitSystem:
    return platform_of(machine).services


def main_pid(machine: Machine, unit: str) -> str:
    """The daemon's PID as the box's init system has it (0 when it does not run)."""
    return sh(machine, services(machine).main_pid(unit)).stdout.strip()


# The layout of the package set installed on each box, by box instance (the `packages`
# and `master` fixtures record it): the checks ask it, never assume our /opt/salt.
_LAYOUTS: dict[str, PayloadLayout] = {}


def record_layout(machine: Machine, layout: PayloadLayout) -> None:
    _LAYOUTS[machine.name] = layout


def layout(machine: Machine) -> PayloadLayout:
    """Where the packages under test put Salt on this box."""
    return _LAYOUTS[machine.name]


def prefix(machine: Machine) -> str:
    """The directory that holds the venv or onedir (ours: /opt/salt)."""
    return layout(machine).prefix


def tool_path(machine: Machine, tool: str) -> str:
    """The path a user runs TOOL by (ours: /usr/bin/TOOL); skips where no package has it."""
    try:
        return layout(machine).command(tool)
    except Missing as e:
        pytest.skip(str(e))


def needs_service(machine: Machine, daemon: str) -> str:
    """The package that brings DAEMON's service; skips where none does (a venv packaged
    without units runs no daemon to check)."""
    try:
        return layout(machine).package_of(daemon)
    except Missing as e:
        pytest.skip(str(e))


def interpreter(machine: Machine) -> str:
    """The payload's Python on this box (bundled, or the venv's link to the system's)."""
    return layout(machine).interpreter


def isolated(machine: Machine) -> str:
    """The payload's Python, run apart from the caller's environment and user site."""
    return layout(machine).isolated


def import_each(machine: Machine, modules: Iterable[str]) -> str:
    """The command that imports each module on its own in /opt/salt's Python: a failed
    sweep's reproducer."""
    return f'for m in {" ".join(modules)}; do {isolated(machine)} -c "import $m"; done'


def supported(question: Callable[..., str], *args) -> str:
    """The command that answers `question` on this box; skips the check, with the reason,
    where the box cannot answer it (no package database, no init system), naming the boxes
    of the same packages that can."""
    try:
        return question(*args)
    except Unsupported as e:
        pytest.skip(f"{e}{answered_elsewhere(question, *args)}")


def answers(question: Callable[..., str], *args) -> str | None:
    """The command that answers `question` on this box, or None where it cannot."""
    try:
        return question(*args)
    except Unsupported:
        return None


def answered_elsewhere(question: Callable[..., str], *args) -> str:
    """'; checked on centos7-rpm' for the catalog's other boxes of the same packages whose
    package database (or init system) answers `question`."""
    kind = getattr(question, "__self__", None)
    if not isinstance(kind, PackageDb | InitSystem):
        return ""
    others = []
    for box in load_catalog().values():
        if box.name == kind.box.name or box.packages_box != kind.box.packages_box:
            continue
        theirs = platform.of(box)
        part = theirs.packages if isinstance(kind, PackageDb) else theirs.services
        try:
            getattr(part, question.__name__)(*args)
        except Unsupported:
            continue
        others.append(box.name)
    return f"; checked on {', '.join(others)}" if others else ""


def expect_silent(machine: Machine, what: str, command: str, must_succeed: bool = True):
    """Fail when `command` prints anything: each line of its output is one `what`."""
    result = sh(machine, command, expect_ok=must_succeed)
    found = [line for line in result.stdout.splitlines() if line.strip()]
    expect_none(machine, what, command, found)


def expect_unchanged(machine: Machine, what: str, names: list[str]):
    """The box's package database verifies `names` clean (skips where it has none)."""
    command = supported(pkgdb(machine).verify, names)
    expect_silent(machine, f"changed file of {what}", command, must_succeed=False)


def salt(minion: SaltMinion, function: str, *args: str, timeout: int = 60):
    """Run a function on the minion through its master; fail with the command on error."""
    master = minion.master
    try:
        return master.salt(minion.id, function, *args, timeout=timeout)
    except HarnessError as e:
        fail(
            master.machine,
            f"a JSON return from {minion.id}",
            str(e),
            SaltMaster.salt_command(minion.id, function, *args, timeout=timeout),
        )
