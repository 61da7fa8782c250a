"""Wall time of Salt's own package tests in our boxes, per box: staging (suite, wheels and
packages copied in, the runner unpacked) and every chunk that runs, as the peer section of a
verification reports it; ours run alongside with `-m smoke` only. Medians over repeats.

    .venv/bin/python bench/bench_peer.py [--repeats 3] [--boxes debian12]
        [--packages dist/{box}-onedir]
"""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys

from medians import print_medians

from harness.paths import REPO_ROOT


def peer_seconds(box: str, packages: str) -> tuple[float, dict]:
    argv = [sys.executable, "-m", "signoff.cli", "verify", "--box", box, "--packages"]
    argv += [packages, "-m", "smoke", "--peer", "salt-pkg-tests"]
    proc = subprocess.run(argv, cwd=REPO_ROOT, capture_output=True, text=True)
    found = re.search(r"report: (\S+)/report\.html", proc.stdout)
    if not found:
        raise SystemExit(f"no report from {' '.join(argv)}:\n{proc.stdout}{proc.stderr}")
    summary = json.loads((REPO_ROOT / found.group(1) / "summary.json").read_text())
    (section,) = summary["peer"]["boxes"]
    return section["seconds"], section


def main():
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--boxes", default="debian12")
    parser.add_argument("--packages", default="dist/{box}-onedir")
    args = parser.parse_args()
    samples: dict[str, list[float]] = {}
    for box in args.boxes.split(","):
        for _ in range(args.repeats):
            seconds, section = peer_seconds(box, args.packages.format(box=box))
            counts = f"{section['passed']} passed, {section['failed']} failed"
            samples.setdefault(f"{box} ({counts})", []).append(seconds)
    print_medians(
        f"Salt's package tests, wall time per box, {os.cpu_count()} cores", "box", samples
    )


if __name__ == "__main__":
    main()
