"""Box lifecycle timings: medians over repeats, printed as a table.

    .venv/bin/python bench/bench_boxes.py [--repeats 5] [--cold]

Every figure is the wall time of the `harness` command a user would type, in a harness
namespace of its own (state dir, bridge), so boxes started by hand are never touched.
--cold adds a from-scratch image build per Debian release (`image build --force`, ~30 s each).
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time

from rich.console import Console
from rich.table import Table

RELEASES = ["debian11", "debian12", "debian13"]


class Harness:
    def __init__(self, state_dir: str):
        slot = os.getpid() % 200 + 20
        self.env = dict(
            os.environ,
            SVH_STATE_DIR=state_dir,
            SVH_BRIDGE=f"svh-b{slot}",
            SVH_NETWORK=f"10.244.{slot}.0/24",
        )

    def timed(self, *args: str) -> float:
        started = time.monotonic()
        proc = subprocess.run(
            [sys.executable, "-m", "signoff.cli", *args],
            env=self.env,
            capture_output=True,
            text=True,
        )
        elapsed = time.monotonic() - started
        if proc.returncode != 0:
            sys.exit(f"harness {' '.join(args)} failed: {proc.stderr.strip()}")
        return elapsed


def median_of(samples: list[float]) -> str:
    return f"{statistics.median(samples):.2f}"


def measure(h: Harness, repeats: int, cold: bool) -> list[tuple[str, str, str, int]]:
    rows = []

    def record(what: str, target: str, samples: list[float]):
        rows.append((what, median_of(samples), target, len(samples)))

    if cold:
        for box in RELEASES:
            record(f"image build {box}, cold", "-", [h.timed("image build", box, "--force")])
    for box in RELEASES:
        h.timed("image", "build", box)  # make sure it is cached before timing the hit
        record(
            f"image build {box}, cache hit",
            "< 1 s",
            [h.timed("image", "build", box) for _ in range(repeats)],
        )

    up, down, snap, restore_snap, restore_pristine = [], [], [], [], []
    for _ in range(repeats):
        up.append(h.timed("up", "debian12"))
        snap.append(h.timed("snapshot", "debian12", "s"))
        restore_snap.append(h.timed("restore", "debian12", "s"))
        restore_pristine.append(h.timed("restore", "debian12"))
        down.append(h.timed("down", "debian12"))
    record("up debian12 (warm image) to SSH ready", "< 1.5 s", up)
    record("snapshot debian12", "-", snap)
    record("restore debian12 to a snapshot", "< 1.5 s", restore_snap)
    record("restore debian12 to pristine", "< 1.5 s", restore_pristine)
    record("down debian12", "-", down)

    three = []
    for _ in range(repeats):
        three.append(h.timed("up", *RELEASES))
        h.timed("down", "--all")
    record("up debian11+12+13 concurrently", "-", three)
    return rows


def main():
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--cold", action="store_true", help="also time from-scratch image builds")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="svh-bench-") as state_dir:
        h = Harness(state_dir)
        try:
            rows = measure(h, args.repeats, args.cold)
        finally:
            subprocess.run(
                [sys.executable, "-m", "signoff.cli", "down", "--all"],
                env=h.env,
                capture_output=True,
            )
    table = Table(
        "what", "median s", "target", "runs", title=f"box lifecycle, {os.cpu_count()} cores"
    )
    for row in rows:
        table.add_row(*row[:3], str(row[3]))
    Console().print(table)


if __name__ == "__main__":
    main()
