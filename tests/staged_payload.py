"""A staged payload's description (builds.payload.describe) as the build would write it for
Salt 3008.4 on debian12's Python 3.11, without a box: what the recipe tests read."""

from __future__ import annotations

from builds import layout
from builds.payload import StagedPayload, describe
from harness import catalog


def staged(
    defect: str | None = None, box: str = "debian12", shape: layout.Shape = layout.VENV
) -> StagedPayload:
    payload = StagedPayload(
        box=box,
        root="/stage",
        salt_version="3008.4",
        version="3008.4-1",
        python_version="3.11.2",
        bundled_interpreter=False,
        system_python="/usr/bin/python3.11",
        unit_dir=layout.unit_dir(catalog.load_box(box)),
        defect=defect,
        shape=shape,
    )
    describe(payload, "3.11")
    return payload
