"""The sign-off report directory, one owner: where each piece lives. Written by
`harness verify` and the plugin's evidence, read by the report, copied by a merge."""

from __future__ import annotations

import re
import time
from dataclasses import dataclass, field
from pathlib import Path


def slug(test_name: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]+", "_", test_name).strip("_")


RUN_FILES = {
    "junit": "junit.xml",
    "summary": "summary.json",
    "pytest_log": "pytest.log",
    "events": "events.jsonl",
}


@dataclass(frozen=True)
class ReportDir:
    root: Path
    # The run's files under root (RUN_FILES): pytest's JUnit XML, the verdicts, pytest's own
    # output and the live progress' events.
    junit: Path = field(init=False)
    summary: Path = field(init=False)
    pytest_log: Path = field(init=False)
    events: Path = field(init=False)

    def __post_init__(self):
        for attribute, name in RUN_FILES.items():
            object.__setattr__(self, attribute, self.root / name)  # frozen: set once, here

    @classmethod
    def new(cls, parent: Path) -> ReportDir:
        """A directory of its own under `parent`, named by the time: DATE-TIME, or
        DATE-TIME-N when runs started in the same second (CI starts several at once)."""
        stamp = time.strftime("%Y%m%d-%H%M%S")
        parent.mkdir(parents=True, exist_ok=True)
        root, n = parent / stamp, 1
        while True:
            try:
                root.mkdir()
                return cls(root)
            except FileExistsError:
                n += 1
                root = parent / f"{stamp}-{n}"

    def fingerprint(self, box: str) -> Path:
        return self.root / "boxes" / box / "fingerprint.json"

    def failure_logs(self, box: str, check: str) -> Path:
        """The logs kept when `check` failed on `box` (a directory)."""
        return self.root / "logs" / box / slug(check)

    def of_box(self, box: str) -> list[Path]:
        """Everything kept for one box (fingerprint, failure logs): what a merge copies."""
        return [self.root / kind / box for kind in ("boxes", "logs")]
