"""Checks as shell commands on a box, with failure messages an engineer can follow alone:
what was expected, what was found, on which box, and the command that shows it."""

from __future__ import annotations

import shlex

import pytest

from harness.transport import Machine, Result


def reproduce(machine: Machine, command: str) -> str:
    return f"harness ssh {machine.name} -- {shlex.quote(command)}"


def fail(machine: Machine, expected: str, found: str, command: str):
    pytest.fail(
        f"expected {expected}\n  found: {found}\n  box: {machine.name}\n"
        f"  see: {reproduce(machine, command)}  (keep the box with --keep-boxes)",
        pytrace=False,
    )


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
