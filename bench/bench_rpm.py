"""rpmbuild on the build box alone: the RPM format step for one staged debian12 payload,
per payload compression, medians over repeats, as a table.

    .venv/bin/python bench/bench_rpm.py [--repeats 3]

The payload is staged once (warm build caches); each run is builds.rpm.build on it (pack
the staged trees, rpmbuild, collect), without fetching to the host. The whole
`harness build debian12 --format rpm` is in bench_build.py --rpm.
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import time
from pathlib import Path

from rich.console import Console
from rich.table import Table

from builds import rpm
from builds.locks import DEFAULT_SALT
from builds.payload import stage
from builds.remote import BoxRunner
from harness import catalog
from harness.session import box_instance, terminate_as_interrupt

OUT = "/var/tmp/svh-build/out-bench"
# (rpm payload setting, which EL releases' rpm can read it)
COMPRESSIONS = [
    (rpm.PAYLOAD_COMPRESSION, "EL6+ (the default)"),
    ("w6.gzdio", "EL5+"),
    ("w9.gzdio", "EL5+ (the spec's EL5 setting)"),
    ("w3T.zstdio", "EL8+ only"),
]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--repeats", type=int, default=3)
    args = ap.parse_args()
    terminate_as_interrupt()  # SIGTERM unwinds too, so the box goes down
    table = Table(
        "payload compression",
        "rpmbuild step s (median)",
        "runs",
        "salt RPM MB",
        "readable by",
        title=f"RPM format step, debian12, Salt {DEFAULT_SALT}",
    )
    log = Path(tempfile.mkdtemp(prefix="svh-bench-rpm-")) / "build.log"
    with box_instance("debian12", name=f"rpm-debian12-{os.getpid()}") as machine:
        runner = BoxRunner(machine, log)
        started = time.monotonic()
        box = catalog.load_box("debian12")
        staged = stage(machine, box, DEFAULT_SALT, None, runner)
        Console(stderr=True).print(f"staged in {time.monotonic() - started:.1f}s")
        for setting, readers in COMPRESSIONS:
            samples, size = [], 0
            for _ in range(args.repeats):
                started = time.monotonic()
                built = rpm.build(runner, staged, OUT, box, {"payload_compression": setting})
                samples.append(time.monotonic() - started)
                salt = next(b for b in built if b.name == "salt")
                size = int(runner.output(f"stat -c %s {OUT}/{salt.file}", "measuring the RPM"))
            table.add_row(
                setting,
                f"{statistics.median(samples):.1f}",
                str(len(samples)),
                f"{size / 1e6:.1f}",
                readers,
            )
    Console().print(table)
    print(f"log: {log}")


if __name__ == "__main__":
    main()
