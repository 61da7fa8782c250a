"""The text of a failed check that the report reads back: written here and parsed here,
so the suites and the report never agree on a format by convention alone."""

from __future__ import annotations

import re
import shlex

KEEP_HINT = "(keep the box with --keep-boxes)"
_REPRODUCER = re.compile(r"see: (harness ssh .*?)(?:  \(keep|$)", re.MULTILINE)


def reproducer(box_name: str, command: str) -> str:
    """The command that shows the failure again, on the box."""
    return f"harness ssh {box_name} -- {shlex.quote(command)}"


def message(box_name: str, expected: str, found: str, command: str) -> str:
    return (
        f"expected {expected}\n  found: {found}\n  box: {box_name}\n"
        f"  see: {reproducer(box_name, command)}  {KEEP_HINT}"
    )


def reproducer_in(text: str) -> str:
    """The reproducer a failure message names (empty when it names none)."""
    found = _REPRODUCER.search(text)
    return found.group(1) if found else ""
