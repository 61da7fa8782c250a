"""Wall time of the verification suites: per box, and the three Debian boxes serial
against -n 3 (packages already built, images cached). Medians over repeats, as a table.

    .venv/bin/python bench/bench_suites.py [--repeats 3]
        [--boxes debian11,debian12,debian13] [-m EXPR]
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import time

from rich.console import Console
from rich.table import Table

from harness.paths import REPO_ROOT
from verification.suite_command import SuiteRun


def suite_seconds(boxes: list[str], workers: int, marker: str | None) -> tuple[float, bool]:
    argv = SuiteRun(boxes, workers=workers, marker=marker).argv()
    started = time.monotonic()
    proc = subprocess.run(argv, cwd=REPO_ROOT, capture_output=True, text=True)
    return time.monotonic() - started, proc.returncode == 0


def main():
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--boxes", default="debian11,debian12,debian13")
    parser.add_argument("-m", dest="marker", help="only checks with this marker expression")
    args = parser.parse_args()
    boxes = args.boxes.split(",")
    runs = [(f"suites on {b}", [b], 1) for b in boxes]
    runs += [
        (f"suites on {len(boxes)} boxes, serial", boxes, 1),
        (f"suites on {len(boxes)} boxes, -n {len(boxes)}", boxes, len(boxes)),
    ]
    table = Table(
        "what",
        "median s",
        "runs",
        "all passed",
        title=f"verification wall time, {os.cpu_count()} cores"
        + (f", -m {args.marker}" if args.marker else ""),
    )
    for label, chosen, workers in runs:
        samples = [suite_seconds(chosen, workers, args.marker) for _ in range(args.repeats)]
        table.add_row(
            label,
            f"{statistics.median(s for s, _ in samples):.0f}",
            str(len(samples)),
            "yes" if all(ok for _, ok in samples) else "no",
        )
    Console().print(table)


if __name__ == "__main__":
    main()
