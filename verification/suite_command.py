"""The suites' pytest command line, built in one place for `harness verify`, the benchmarks
and the harness's own tests."""

from __future__ import annotations

import shlex
import sys
from dataclasses import dataclass, field
from pathlib import Path


@dataclass(frozen=True)
class SuiteRun:
    """`pytest suites/ --box ...` with the harness's options; argv() is what runs."""

    boxes: list[str]
    targets: list[str] = field(default_factory=lambda: ["suites/"])  # paths or node ids
    workers: int = 1
    provider: str | None = None
    packages: str | None = None
    prefix: str | None = None  # where the packages hold Salt, when they hold several
    older_line: str | None = None  # the older Salt line's packages (lifecycle)
    older_salt: str | None = None  # the older Salt line(s) the lifecycle upgrades from
    marker: str | None = None
    keyword: str | None = None
    junit: Path | None = None
    report_dir: Path | None = None
    keep_boxes: bool = False

    def argv(self) -> list[str]:
        argv = [sys.executable, "-m", "pytest", *self.targets, "--box", ",".join(self.boxes)]
        if self.junit:
            argv.append(f"--junitxml={self.junit}")
        if self.report_dir:
            argv.append(f"--report-dir={self.report_dir}")
        argv += ["-p", "no:cacheprovider", "-q"]
        if self.workers > 1:
            argv += ["-n", str(self.workers), "--dist", "loadgroup"]
        for flag, value in (
            ("--provider", self.provider),
            ("--packages", self.packages),
            ("--prefix", self.prefix),
            ("--older-line", self.older_line),
            ("--older-salt", self.older_salt),
            ("-m", self.marker),
            ("-k", self.keyword),
        ):
            if value:
                argv += [flag, value]
        if self.keep_boxes:
            argv.append("--keep-boxes")
        return argv

    def shown(self) -> str:
        """The command as a user would type it (for a report)."""
        return " ".join(shlex.quote(a) for a in ["pytest", *self.argv()[3:]])
