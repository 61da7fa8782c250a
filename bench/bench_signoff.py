"""Sign-off wall time: `harness verify` of several boxes, serial (-n 1) against parallel
(-n N), in one run, with images and packages cached. Medians over repeats, printed as a
table with the ratio, how soon the first progress line appeared and the CPU seconds the
whole machine was busy meanwhile (all cores: what bounds a parallel run); --record appends
the table to bench/RESULTS.md with the date and the machine.

    .venv/bin/python bench/bench_signoff.py [--boxes debian11,debian12,debian13]
        [--repeats 3] [--record]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import statistics
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from rich.console import Console
from rich.table import Table

from harness.paths import REPO_ROOT

RESULTS = Path(__file__).with_name("RESULTS.md")


@dataclass
class Sample:
    seconds: float
    cpu_seconds: float  # the machine's busy CPU time meanwhile, all cores, all processes
    first_line: float  # seconds until the first progress line
    verdict: str
    checks: int
    report: str


def busy_cpu_seconds() -> float:
    """CPU time the machine has spent busy since boot, over all cores (/proc/stat)."""
    with open("/proc/stat") as stat:
        fields = [int(f) for f in stat.readline().split()[1:]]
    idle, iowait = fields[3], fields[4]
    return (sum(fields[:8]) - idle - iowait) / os.sysconf("SC_CLK_TCK")


def verify(boxes: list[str], workers: int) -> Sample:
    argv = [sys.executable, "-m", "signoff.cli", "verify", "--box", ",".join(boxes)]
    argv += ["-n", str(workers)]
    env = {**os.environ, "SVH_INSTANCE_SUFFIX": f"bench{workers}"}
    started, cpu_started = time.monotonic(), busy_cpu_seconds()
    proc = subprocess.Popen(argv, cwd=REPO_ROOT, stdout=subprocess.PIPE, text=True, env=env)
    assert proc.stdout is not None
    first, output = 0.0, []
    for line in proc.stdout:
        if not first and line.split(":")[0] in boxes:
            first = time.monotonic() - started
        output.append(line)
    proc.wait()
    text = "".join(output)
    found = re.search(r"report: (\S+)/report\.html", text)
    summary = json.loads((Path(found.group(1)) / "summary.json").read_text()) if found else {}
    return Sample(
        time.monotonic() - started,
        busy_cpu_seconds() - cpu_started,
        first,
        summary.get("verdict", "none"),
        sum(b["passed"] + b["failed"] + b["skipped"] for b in summary.get("boxes", [])),
        found.group(1) if found else "",
    )


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--boxes", default="debian11,debian12,debian13")
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--record", action="store_true", help="append the table to RESULTS.md")
    args = ap.parse_args()
    boxes = args.boxes.split(",")
    runs = {n: [verify(boxes, n) for _ in range(args.repeats)] for n in (1, len(boxes))}
    medians = {n: statistics.median(s.seconds for s in runs[n]) for n in runs}
    title = (
        f"harness verify --box {args.boxes}: median of {args.repeats}, "
        f"{os.cpu_count()} cores, {time.strftime('%Y-%m-%d')}, {platform.node()}"
    )
    columns = ("workers", "median s", "median CPU s", "first progress line s", "verdicts")
    # One row per worker count, for the table and for RESULTS.md (which leaves out checks).
    rows = {
        n: [
            f"-n {n}",
            f"{medians[n]:.0f}",
            f"{statistics.median(s.cpu_seconds for s in samples):.0f}",
            f"{statistics.median(s.first_line for s in samples):.1f}",
            " ".join(s.verdict for s in samples),
        ]
        for n, samples in runs.items()
    }
    table = Table(*columns, "checks", title=title)
    for n, samples in runs.items():
        table.add_row(*rows[n], " ".join(str(s.checks) for s in samples))
    ratio = medians[1] / medians[len(boxes)]
    console = Console()
    console.print(table)
    console.print(f"serial / parallel: {ratio:.2f}")
    for n, samples in runs.items():
        console.print(f"-n {n} reports: {' '.join(s.report for s in samples)}", soft_wrap=True)
    if args.record:
        with open(RESULTS, "a") as results:
            results.write(f"\n## {title}\n\n| {' | '.join(columns)} |\n")
            results.write("|---" * len(columns) + "|\n")
            for row in rows.values():
                results.write(f"| {' | '.join(row)} |\n")
            results.write(f"\nserial / parallel: {ratio:.2f}\n")
    return 0


if __name__ == "__main__":
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
    sys.exit(main())
