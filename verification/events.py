"""What a suite run tells whoever watches it (`harness verify`'s live progress): one JSON
object a line, appended to the file that SVH_EVENTS names. Without SVH_EVENTS nothing is
written, so a plain `pytest suites/` behaves as before."""

from __future__ import annotations

import json
import re
import time

from harness import settings

ENV = "SVH_EVENTS"


def emit(box: str, **fields: object) -> None:
    path = settings.current().text(ENV)
    if not path:
        return
    line = json.dumps({"box": box, "time": time.time(), **fields}) + "\n"
    # One short append per event: lines of several workers never interleave.
    with open(path, "a") as events:
        events.write(line)


def phase(box: str, name: str) -> None:
    emit(box, phase=name)


def test_name(reported: str) -> str:
    """A check's name as pytest reports it, without the "@GROUP" that pytest-xdist's
    --dist loadgroup appends: the same check in every run."""
    return re.sub(r"@[^\]]*$", "", reported)


def param_id(box: str, *rest: str) -> str:
    """A check's parameter id: the box first (box_of and check_of read it back)."""
    return "-".join([box, *rest])


def box_of(test_name: str, boxes: list[str]) -> str:
    """'test_x[debian12-tornado]' -> 'debian12' (the box id starts every parameter id)."""
    param = test_name.partition("[")[2].partition("]")[0]
    return next(
        (
            b
            for b in sorted(boxes, key=len, reverse=True)
            if param == b or param.startswith(b + "-")
        ),
        "(no box)",
    )


def check_of(test_name: str, box: str) -> str:
    """The check without its box: 'test_x[debian12-tornado]' -> 'test_x[tornado]'."""
    base, _, param = test_name.partition("[")
    param = param.partition("]")[0]
    rest = param.removeprefix(box).removeprefix("-")
    return f"{base}[{rest}]" if rest else base
