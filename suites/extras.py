"""An admin's extra Python package for salt-pip: a wheel made on the spot, installed
offline, and where /opt/salt's Python finds it."""

from __future__ import annotations

from pathlib import Path

import pytest
from checks import fail, layout, sh, tool_path

from harness.transport import Machine
from verification.packages import PackageSet
from verification.wheel import make_wheel

EXTRA = "svh_extra"
ANSWER = "from the salt-pip extras"
# An extra built for one Python minor (its wheel's tag), as one with a C extension is.
NATIVE, NATIVE_VERSION = "svh_native", "1.0"
# Two Salt extensions in the saltext namespace, as extensions on PyPI are: each brings an
# execution module through its salt.loader entry point. Distribution: module.
EXTENSIONS = {"saltext.svh_one": "svhone", "saltext.svh_two": "svhtwo"}
REMOTE_DIR = "/var/tmp/salt-venv-harness/extras"


def carries_salt_pip(packages: PackageSet) -> bool:
    """Where the layout has salt-pip (ours: /usr/bin/salt-pip), and the packages hold it."""
    salt_pip = packages.layout.salt_pip
    return salt_pip is not None and salt_pip in packages.payload_files()


def needs_salt_pip(packages: PackageSet) -> None:
    """Skip, with the reason, where the packages carry no salt-pip (a payload on Python 2.7:
    Salt brought salt-pip with 3006)."""
    if not carries_salt_pip(packages):
        pytest.skip(
            f"Salt {packages.salt_version}'s packages in {packages.directory} carry no "
            f"{packages.layout.salt_pip or 'salt-pip'}: no extras to check"
        )


def salt_pip_install(machine: Machine, wheel: Path) -> None:
    """`salt-pip install` of the wheel, offline, as an admin runs it."""
    remote = f"{REMOTE_DIR}/{wheel.name}"
    sh(machine, f"mkdir -p {REMOTE_DIR}")
    machine.put_file(wheel, remote)
    sh(machine, f"{tool_path(machine, 'salt-pip')} install --no-index --no-deps {remote}")


def expect_in_extras(machine: Machine, module: str = EXTRA) -> None:
    payload = layout(machine)
    command = f"{payload.interpreter} -c 'import {module}; print({module}.__file__)'"
    where = sh(machine, command, expect_ok=False).stdout.strip()
    if where != f"{payload.extras_dir}/{module}.py":
        fail(
            machine, f"{module} imported from {payload.extras_dir}/", where or "no module", command
        )


def extra_wheel(directory: Path) -> Path:
    return make_wheel(directory, EXTRA, "1.0", {f"{EXTRA}.py": f"ANSWER = {ANSWER!r}\n"})


def native_wheel(directory: Path, minor: str) -> Path:
    """NATIVE as a wheel for CPython `minor` on Linux x86_64 only."""
    cp = "cp" + minor.replace(".", "")
    files = {f"{NATIVE}.py": f"ANSWER = {ANSWER!r}\n"}
    return make_wheel(directory, NATIVE, NATIVE_VERSION, files, tag=f"{cp}-{cp}-linux_x86_64")


def extension_answer(module: str, version: str) -> str:
    return f"{module} {version}, from a Salt extension"


def extension_wheel(directory: Path, distribution: str, version: str) -> Path:
    """A Salt extension of EXTENSIONS as the Salt extension template lays one out:
    saltext/NAME/modules/MODULE.py and its salt.loader entry point."""
    module = EXTENSIONS[distribution]
    package = distribution.replace(".", "/")
    code = f"def answer():\n    return {extension_answer(module, version)!r}\n"
    files = {f"{package}/__init__.py": "", f"{package}/modules/{module}.py": code}
    entry_point = f"[salt.loader]\n{module} = {distribution}\n"
    return make_wheel(directory, distribution, version, files, entry_point)
