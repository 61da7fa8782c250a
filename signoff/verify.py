"""`harness verify`: the suites over a set of boxes, then the sign-off report."""

from __future__ import annotations

import os
import re
import time
from contextlib import AbstractContextManager, nullcontext
from pathlib import Path

from rich.console import Console

from harness import catalog, paths, runner, session
from harness.errors import HarnessError
from verification import events
from verification.packages import PackageSet, holds_one_set, package_dir
from verification.report_layout import ReportDir
from verification.suite_command import SuiteRun

from . import peer as peer_run
from . import report
from .live import LiveProgress


def shard_boxes(boxes: list[str], shard: str) -> list[str]:
    """Shard K of N: every N-th box from the K-th, so N CI jobs split the matrix by box."""
    found = re.fullmatch(r"(\d+)/(\d+)", shard)
    if not found or not 1 <= int(found.group(1)) <= int(found.group(2)):
        raise HarnessError(f"--shard {shard}: give K/N with 1 <= K <= N, e.g. --shard 1/2")
    k, n = int(found.group(1)), int(found.group(2))
    mine = boxes[k - 1 :: n]
    if not mine:
        raise HarnessError(
            f"--shard {shard} has no box: {len(boxes)} box(es) selected; use at most "
            f"{len(boxes)} shards"
        )
    return mine


def package_sets(
    boxes: list[str], packages: str | None, prefix: str | None = None
) -> dict[str, PackageSet]:
    """Every box's package set.

    A missing set stops the run before any box starts.
    """
    found = {}
    for box in boxes:
        spec = catalog.load_box(box)
        own = spec.packages_box  # centos7-abi and centos7-rpm verify centos7's packages
        found[box] = PackageSet.load(package_dir(own, packages), own, prefix)
        if spec.master and spec.master != own:  # its salt-master's packages
            PackageSet.load(paths.package_set_dir(spec.master), spec.master)
    return found


def run_suites(
    run: SuiteRun, layout: ReportDir, live: LiveProgress, exclusive: AbstractContextManager
) -> int:
    """pytest's exit code. Its own output goes to pytest.log only; the terminal gets one line
    per box. Every box of the run is down at the end, interrupted or not, unless kept.
    Held meanwhile: `exclusive` (peer-compare's jobs take turns at our suites)."""
    token = session.new_run()
    env = {**os.environ, events.ENV: str(layout.events), "SVH_RUN": token}
    try:
        with exclusive, live, open(layout.pytest_log, "w") as log:
            return runner.tee(run.argv(), log, env=env, cwd=paths.REPO_ROOT, on_line=lambda _: None)
    finally:
        if not run.keep_boxes:
            session.down_run(token)


def selected_boxes(
    box_spec: list[str] | None, shard: str | None, packages: str | None
) -> list[str]:
    """The boxes to verify (this shard's); refused when PACKAGES cannot serve them all."""
    boxes = [b.name for b in catalog.select_boxes(box_spec or None)]
    if shard:
        boxes = shard_boxes(boxes, shard)
    # One set serves several boxes only where they verify the same packages (centos7-abi
    # and centos7-rpm: centos7's).
    owners = {catalog.load_box(b).packages_box for b in boxes}
    if packages and len(owners) > 1 and holds_one_set(Path(packages)):
        raise HarnessError(
            f"--packages {packages} holds one box's packages; boxes that verify different "
            "packages need a directory with one subdirectory per box"
        )
    return boxes


def verify(
    box_spec: list[str] | None,
    workers: int = 1,
    provider: str | None = None,
    packages: str | None = None,
    keep_boxes: bool = False,
    marker: str | None = None,
    keyword: str | None = None,
    reports_dir: Path | None = None,
    shard: str | None = None,
    console: Console | None = None,
    prefix: str | None = None,
    older_line: str | None = None,
    peer: str | None = None,
    peer_until_caught: bool = False,
    exclusive: AbstractContextManager | None = None,
) -> tuple[dict, Path]:
    """Our suites on the boxes, then the peer's; the summary and the report's directory."""
    boxes = selected_boxes(box_spec, shard, packages)
    sets = package_sets(boxes, packages, prefix)
    if peer:
        peer_run.require_onedir(sets)
    started = time.time()
    layout = ReportDir.new(reports_dir or paths.REPO_ROOT / "reports")
    report_dir = layout.root
    run = SuiteRun(
        boxes,
        workers=workers,
        provider=provider,
        packages=packages,
        prefix=prefix,
        older_line=older_line,
        marker=marker,
        keyword=keyword,
        junit=layout.junit,
        report_dir=report_dir,
        keep_boxes=keep_boxes,
    )
    live = LiveProgress(boxes, layout.events, console or Console())
    code = run_suites(run, layout, live, exclusive or nullcontext())
    if not layout.junit.exists():
        raise HarnessError(
            f"the suites did not run (pytest exited {code}); see {layout.pytest_log}"
        )
    extra: dict = {"shards": [shard] if shard else []}
    if peer:
        extra["peer"] = peer_run.run(
            sets, report_dir, provider, keep_boxes, console, older_line, peer_until_caught
        )
    results = report.collect(layout.junit, {box: s.manifest for box, s in sets.items()})
    summary = report.write(report_dir, results, started, run.shown(), **extra)
    return summary, report_dir
