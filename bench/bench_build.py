"""Package build timings per box, medians over repeats, plus payload and package sizes.

    .venv/bin/python bench/bench_build.py [--box debian12 ...] [--repeats 3] [--cold] [--rpm]

warm: `harness build BOX --force` with the build caches filled (inputs, compiled wheels, bundled
CPython): no network. cold: the same with empty build caches (fresh $SVH_BUILD_CACHE_DIR),
so inputs are fetched, sdists compiled and, for debian11, CPython built; box images stay
cached (their timings are in bench_boxes.py). Outputs go to a temp dist dir
($SVH_DIST_DIR), never over dist/. --rpm adds, per box, warm `harness build BOX --format rpm`
(the same staging, then rpmbuild instead of dpkg-deb; bench_rpm.py times rpmbuild alone).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from rich.console import Console
from rich.table import Table

RELEASES = ["debian11", "debian12", "debian13"]


def timed_build(box: str, env: dict, *extra: str) -> float:
    started = time.monotonic()
    proc = subprocess.run(
        [sys.executable, "-m", "signoff.cli", "build", box, *extra],
        env=env,
        capture_output=True,
        text=True,
    )
    if proc.returncode != 0:
        sys.exit(f"harness build {box} {' '.join(extra)} failed: {proc.stderr.strip()}")
    return time.monotonic() - started


def sizes(out: Path) -> tuple[float, float, float]:
    """(/opt/salt installed MB, salt package MB, all role packages KB)."""
    manifest = json.loads((out / "manifest.json").read_text())
    salt = next(p for p in manifest["packages"] if p["name"] == "salt")
    with tempfile.TemporaryDirectory() as tmp:
        if salt["file"].endswith(".rpm"):
            subprocess.run(
                f"rpm2cpio {out / salt['file']} | cpio -idm --quiet",
                shell=True,
                cwd=tmp,
                check=True,
            )
        else:
            subprocess.run(["dpkg-deb", "-x", str(out / salt["file"]), tmp], check=True)
        kb = int(
            subprocess.run(
                ["du", "-sk", f"{tmp}/opt/salt"], capture_output=True, text=True, check=True
            ).stdout.split()[0]
        )
    roles = sum(p["size"] for p in manifest["packages"] if p["name"] != "salt")
    return kb / 1024, salt["size"] / 1e6, roles / 1e3


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--box", action="append", help="box (repeatable; default: debian11, 12, 13)")
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument(
        "--cold", action="store_true", help="also one build per box with empty build caches"
    )
    ap.add_argument(
        "--rpm", action="store_true", help="also warm RPM builds per box (--format rpm)"
    )
    args = ap.parse_args()
    boxes = args.box or RELEASES
    dist = tempfile.mkdtemp(prefix="svh-bench-dist-")
    env = dict(os.environ, SVH_DIST_DIR=dist)
    table = Table(
        "box",
        "cold s",
        "warm s (median)",
        "warm runs",
        "/opt/salt MB",
        "salt pkg MB",
        "6 role pkgs KB",
        title="harness build",
    )
    for box in boxes:
        cold = "-"
        if args.cold:
            with tempfile.TemporaryDirectory(prefix="svh-bench-cache-") as cache:
                cold = f"{timed_build(box, dict(env, SVH_BUILD_CACHE_DIR=cache)):.1f}"
        timed_build(box, env)  # fill the real caches before timing warm builds
        # --force: a real build each time (inputs, wheels and CPython from the caches), not
        # the finished set from the package cache.
        warm = [timed_build(box, env, "--force") for _ in range(args.repeats)]
        opt_mb, deb_mb, roles_kb = sizes(Path(dist) / box)
        table.add_row(
            box,
            cold,
            f"{statistics.median(warm):.1f}",
            str(len(warm)),
            f"{opt_mb:.0f}",
            f"{deb_mb:.1f}",
            f"{roles_kb:.1f}",
        )
        if args.rpm:
            # --force: a real rpmbuild each time, not the finished set from the package cache.
            rpm = ("--format", "rpm", "--force")
            timed_build(box, env, *rpm)
            warm = [timed_build(box, env, *rpm) for _ in range(args.repeats)]
            opt_mb, rpm_mb, roles_kb = sizes(Path(dist) / f"{box}-rpm")
            table.add_row(
                f"{box} --format rpm",
                "-",
                f"{statistics.median(warm):.1f}",
                str(len(warm)),
                f"{opt_mb:.0f}",
                f"{rpm_mb:.1f}",
                f"{roles_kb:.1f}",
            )
    Console().print(table)
    shutil.rmtree(dist, ignore_errors=True)


if __name__ == "__main__":
    main()
