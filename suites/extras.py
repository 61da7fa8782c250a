"""An admin's extra Python package for salt-pip: a wheel made on the spot, installed
offline, and where /opt/salt's Python finds it."""

from __future__ import annotations

import re
from pathlib import Path

from checks import fail, sh

from harness.transport import Machine
from verification.wheel import make_wheel

EXTRA = "svh_extra"
ANSWER = "from the salt-pip extras"
REMOTE_DIR = "/var/tmp/salt-venv-harness/extras"
IMPORT = f"/opt/salt/bin/python3 -c 'import {EXTRA}; print({EXTRA}.__file__)'"


def salt_pip_install(machine: Machine, wheel: Path) -> None:
    """`salt-pip install` of the wheel, offline, as an admin runs it."""
    remote = f"{REMOTE_DIR}/{wheel.name}"
    sh(machine, f"mkdir -p {REMOTE_DIR}")
    machine.put_file(wheel, remote)
    sh(machine, f"salt-pip install --no-index --no-deps {remote}")


def expect_in_extras(machine: Machine) -> None:
    where = sh(machine, IMPORT, expect_ok=False).stdout.strip()
    if not re.match(rf"/opt/salt/extras-3\.\d+/{EXTRA}\.py$", where):
        fail(machine, f"{EXTRA} imported from /opt/salt/extras-X.Y/", where or "no module", IMPORT)


def extra_wheel(directory: Path) -> Path:
    return make_wheel(directory, EXTRA, "1.0", f"ANSWER = {ANSWER!r}\n")
