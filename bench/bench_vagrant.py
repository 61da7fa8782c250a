"""VM (vagrant + libvirt) lifecycle next to nspawn: medians over repeats, printed as a table.

    .venv/bin/python bench/bench_vagrant.py [--repeats 3] [--box debian12] [--smoke]

Every figure is the wall time of the `harness` command a user would type, in a state dir of
its own, so boxes started by hand are never touched. `up` is until SSH answers (the command
returns then). --smoke adds one wall time of `pytest suites/ -m smoke` per provider.
Images are built (or found cached) before anything is timed.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from rich.console import Console
from rich.table import Table

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "bench"))
from bench_boxes import Harness as BoxesHarness  # noqa: E402

from verification.suite_command import SuiteRun  # noqa: E402


class Harness(BoxesHarness):
    """bench_boxes' harness runner (a state dir and bridge of its own), plus the suites."""

    def smoke(self, box: str, provider: str) -> tuple[float, str]:
        started = time.monotonic()
        proc = subprocess.run(
            SuiteRun([box], provider=provider, marker="smoke").argv(),
            env=self.env,
            capture_output=True,
            text=True,
            cwd=REPO,
        )
        summary = (proc.stdout.strip().splitlines() or ["no output"])[-1]
        return time.monotonic() - started, summary


def lifecycle(h: Harness, box: str, provider: str, repeats: int) -> dict[str, list[float]]:
    name = f"vg-bench-{provider}"
    samples: dict[str, list[float]] = {
        k: []
        for k in (
            "up to SSH ready",
            "snapshot",
            "restore to a snapshot",
            "restore to pristine",
            "down (destroy)",
        )
    }
    h.timed("image", "build", box, "--provider", provider)
    for _ in range(repeats):
        samples["up to SSH ready"].append(
            h.timed("up", box, "--provider", provider, "--name", name)
        )
        samples["snapshot"].append(h.timed("snapshot", name, "s"))
        samples["restore to a snapshot"].append(h.timed("restore", name, "s"))
        samples["restore to pristine"].append(h.timed("restore", name))
        samples["down (destroy)"].append(h.timed("down", name))
    return samples


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--box", default="debian12")
    parser.add_argument("--smoke", action="store_true", help="also time the smoke suites")
    args = parser.parse_args()
    providers = ("vagrant", "nspawn")
    with tempfile.TemporaryDirectory(prefix="svh-bench-vagrant-") as state_dir:
        h = Harness(state_dir)
        results = {p: lifecycle(h, args.box, p, args.repeats) for p in providers}
        smoke = {p: h.smoke(args.box, p) for p in providers} if args.smoke else {}
    table = Table(
        "step",
        *(f"{p} (median s)" for p in providers),
        "n",
        title=f"{args.box}: VM (vagrant/libvirt, driver {libvirt_driver()}) vs nspawn",
    )
    for step in results["vagrant"]:
        table.add_row(
            step,
            *(f"{statistics.median(results[p][step]):.2f}" for p in providers),
            str(args.repeats),
        )
    if smoke:
        table.add_row(
            "pytest suites/ -m smoke (wall)", *(f"{smoke[p][0]:.0f}" for p in providers), "1"
        )
    Console().print(table)
    for p, (_, summary) in smoke.items():
        print(f"smoke on {p}: {summary}")


def libvirt_driver() -> str:
    sys.path.insert(0, str(REPO))
    from harness.providers.vagrant.host import libvirt_driver as driver

    return driver()


if __name__ == "__main__":
    main()
