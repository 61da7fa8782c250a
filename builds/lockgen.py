"""Regenerate the lock files under builds/locks/ (dev tool; needs uv, `pip install uv`).

python -m builds.lockgen                      # every Salt line x Python we ship
python -m builds.lockgen --salt 3008.4 --python 3.11
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

from .errors import BuildError
from .locks import DEFAULT_SALT, LOCK_DIR, OLDER_LINES, lock_name, parse_lock

SALT_LINES = [DEFAULT_SALT, *OLDER_LINES]
PYTHONS = ["3.11", "3.13"]
# What the sdists compiled on the box need to build: salt's in-tree backend, timelib
# (Cython) and, where no wheel fits (glibc 2.17), pyzmq (scikit-build-core, cmake, ninja).
BUILD_BACKENDS = [
    "pip",
    "setuptools",
    "wheel",
    "looseversion",
    "packaging",
    "importlib-metadata",
    "Cython",
    "scikit-build-core",
    "cmake",
    "ninja",
]


def _uv() -> str:
    uv = shutil.which("uv") or str(Path(sys.executable).parent / "uv")
    if not Path(uv).exists():
        raise BuildError("uv not found: pip install uv")
    return uv


def compile_lock(requirements: list[str], python_minor: str, out: Path) -> Path:
    with tempfile.TemporaryDirectory() as tmp:
        req = Path(tmp) / "requirements.in"
        req.write_text("\n".join(requirements) + "\n")
        proc = subprocess.run(
            [
                _uv(),
                "pip",
                "compile",
                "--python-version",
                python_minor,
                "--python-platform",
                "linux",
                "--generate-hashes",
                "--no-header",
                "--no-annotate",
                "-q",
                str(req),
                "-o",
                str(Path(tmp) / "out.txt"),
            ],
            capture_output=True,
            text=True,
        )
        if proc.returncode != 0:
            tail = " ".join(proc.stderr.strip().splitlines()[-3:])
            raise BuildError(
                f"{' '.join(requirements)} does not resolve for Python {python_minor} "
                f"against the reachable index: {tail[:300]}"
            )
        text = (Path(tmp) / "out.txt").read_text()
    parse_lock(text, str(out))
    out.write_text(
        f"# {' '.join(requirements)} for Python {python_minor}; "
        "regenerate: python -m builds.lockgen\n" + text
    )
    return out


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(prog="python -m builds.lockgen")
    ap.add_argument(
        "--salt", action="append", help="Salt version (repeatable); default: every line we ship"
    )
    ap.add_argument(
        "--python", action="append", help="Python minor (repeatable); default: 3.11 and 3.13"
    )
    ap.add_argument("--out", type=Path, default=LOCK_DIR)
    args = ap.parse_args(argv)
    args.out.mkdir(parents=True, exist_ok=True)
    try:
        for py in args.python or PYTHONS:
            print(compile_lock(BUILD_BACKENDS, py, args.out / f"build-py{py}.txt"))
            for salt in args.salt or SALT_LINES:
                print(compile_lock([f"salt=={salt}"], py, args.out / lock_name(salt, py)))
    except BuildError as e:
        print(f"error: {e}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
