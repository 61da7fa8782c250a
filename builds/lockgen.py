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
# Lines for targets older than glibc 2.17, each on the one Python it ships with there.
# Salt 3006 and later need cryptography 46 (Rust, no wheel below glibc 2.17): EL6 gets 3005.5.
OLD_GLIBC_LINES = {"3005.5": "3.9"}
# 3005.5's setup.py prepares no metadata on the host's Python, so its requirements are
# read from its sdist (requirements/base.txt, zeromq.txt, crypto.txt) and held to the
# versions Salt tested it with (requirements/static/pkg/py3.9/linux.txt), each of which has
# a manylinux2010 or manylinux1 wheel (contextvars is pure Python, an sdist only).
SDIST_REQUIREMENTS = {
    "3005.5": [
        "Jinja2",
        "jmespath",
        "msgpack>=0.5,!=0.5.5",
        "PyYAML",
        "MarkupSafe",
        "requests>=1.0.0",
        "distro>=1.0.1",
        "contextvars",
        "psutil>=5.0.0",
        "pycryptodomex>=3.9.8",
        "pyzmq>=20.0.0",
    ]
}
SALT_TESTED_WITH = {
    "3005.5": [
        "certifi==2023.07.22",
        "charset-normalizer==3.2.0",
        "contextvars==2.4",
        "distro==1.5.0",
        "idna==2.8",
        "immutables==0.15",
        "jinja2==3.1.0",
        "jmespath==1.0.1",
        "markupsafe==2.0.1",
        "msgpack==1.0.2",
        "psutil==5.8.0",
        "pycryptodomex==3.9.8",
        "pyyaml==6.0",  # Salt's 6.0.1 has no wheel below glibc 2.17
        "pyzmq==23.2.0",
        "requests==2.31.0",
        "urllib3==2.0.6",
    ]
}
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
# Where every compiled dependency comes as a wheel, only the sdists' own backends, of Salt
# 3005's time: its setup.py imports wheel.bdist_wheel and distutils' commands.
PLAIN_BUILD_BACKENDS = ["pip", "setuptools<70", "wheel<0.44"]


def _uv() -> str:
    uv = shutil.which("uv") or str(Path(sys.executable).parent / "uv")
    if not Path(uv).exists():
        raise BuildError("uv not found: pip install uv")
    return uv


def compile_lock(
    requirements: list[str], python_minor: str, out: Path, constraints: tuple[str, ...] = ()
) -> Path:
    """The lock of `requirements` (held to `constraints`) for Python `python_minor`."""
    text = _compiled(requirements, python_minor, constraints)
    return _write(out, f"{' '.join(requirements)} for Python {python_minor}", text)


def compile_sdist_line(salt: str, python_minor: str, out: Path) -> Path:
    """The lock of a line whose requirements are read from its sdist: salt itself (its
    sdist's hash), then what SDIST_REQUIREMENTS names, held to SALT_TESTED_WITH."""
    salt_pin = _compiled([f"salt=={salt}"], python_minor, no_deps=True)
    deps = _compiled(SDIST_REQUIREMENTS[salt], python_minor, tuple(SALT_TESTED_WITH[salt]))
    what = f"salt=={salt} for Python {python_minor}, its requirements as its sdist names them, "
    return _write(out, what + "at the versions Salt tested", salt_pin + deps)


def _write(out: Path, what: str, text: str) -> Path:
    """A lock file: its pins checked, under one line saying what it locks."""
    parse_lock(text, str(out))
    out.write_text(f"# {what}; regenerate: python -m builds.lockgen\n" + text)
    return out


def _compiled(
    requirements: list[str], python_minor: str, constraints: tuple[str, ...] = (), no_deps=False
) -> str:
    with tempfile.TemporaryDirectory() as tmp:
        req, held = Path(tmp) / "requirements.in", Path(tmp) / "constraints.txt"
        req.write_text("\n".join(requirements) + "\n")
        held.write_text("\n".join(constraints) + "\n")
        argv = [_uv(), "pip", "compile", "--python-version", python_minor]
        argv += ["--python-platform", "linux", "--generate-hashes", "--no-header"]
        argv += ["--no-annotate", "-q", "-c", str(held), str(req), "-o", f"{tmp}/out.txt"]
        proc = subprocess.run(
            argv + (["--no-deps"] if no_deps else []), capture_output=True, text=True
        )
        if proc.returncode != 0:
            tail = " ".join(proc.stderr.strip().splitlines()[-3:])
            raise BuildError(
                f"{' '.join(requirements)} does not resolve for Python {python_minor} "
                f"against the reachable index: {tail[:300]}"
            )
        return (Path(tmp) / "out.txt").read_text()


def targets(salts: list[str] | None, pythons: list[str] | None) -> list[tuple[str, str]]:
    """(Salt line, Python minor) pairs to lock: the lines we ship on each Python, and each
    old-glibc line on its own Python; narrowed by --salt and --python."""
    lines = salts or [*SALT_LINES, *OLD_GLIBC_LINES]
    pairs = list(dict.fromkeys(p for s in lines for p in _on_pythons(s)))
    return [(s, py) for s, py in pairs if not pythons or py in pythons]


def _on_pythons(salt: str) -> list[tuple[str, str]]:
    return (
        [(salt, OLD_GLIBC_LINES[salt])]
        if salt in OLD_GLIBC_LINES
        else [(salt, py) for py in PYTHONS]
    )


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(prog="python -m builds.lockgen")
    ap.add_argument(
        "--salt", action="append", help="Salt version (repeatable); default: every line we ship"
    )
    ap.add_argument("--python", action="append", help="Python minor (repeatable)")
    ap.add_argument("--out", type=Path, default=LOCK_DIR)
    args = ap.parse_args(argv)
    args.out.mkdir(parents=True, exist_ok=True)
    try:
        pairs = targets(args.salt, args.python)
        for py in sorted({py for _, py in pairs}):
            backends = PLAIN_BUILD_BACKENDS if py in OLD_GLIBC_LINES.values() else BUILD_BACKENDS
            print(compile_lock(backends, py, args.out / f"build-py{py}.txt"))
        for salt, py in pairs:
            out = args.out / lock_name(salt, py)
            if salt in SDIST_REQUIREMENTS:
                print(compile_sdist_line(salt, py, out))
            else:
                print(compile_lock([f"salt=={salt}"], py, out))
    except BuildError as e:
        print(f"error: {e}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
