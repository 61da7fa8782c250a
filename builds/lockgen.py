"""Regenerate the lock files under builds/locks/ (dev tool; needs uv, `pip install uv`).

python -m builds.lockgen                      # every Salt line x Python we ship
python -m builds.lockgen --salt 3008.4 --python 3.11
python -m builds.lockgen --salt 3000.9        # EL5's line, on Python 2.7

uv resolves for Python 3.6 and later only: Python 2.7's locks are resolved by the host's
pip (wheels for the target only), with the hashes of every file of each pinned version
read from the index, as uv writes them.
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

from packaging.requirements import Requirement
from packaging.tags import Tag
from packaging.utils import canonicalize_name, parse_wheel_filename

from . import index
from .errors import BuildError
from .locks import LOCK_DIR, lock_name, parse_lock, shipped_lines

PYTHONS = ["3.11", "3.13"]
# Python 3.13 has no crypt module. Salt then hashes passwords (shadow.gen_password,
# user.present's password, the pycrypto utils) with passlib only, which its requirements do
# not name: the payloads on those Pythons carry it, as Salt's onedir on 3.11 has crypt.
WITHOUT_CRYPT = {"3.13": ["passlib"]}
# Lines for targets older than glibc 2.17, each on the one Python it ships with there.
# Salt 3006 and later need cryptography 46 (Rust, no wheel below glibc 2.17): EL6 gets 3005.5.
# Salt 3000 is the last line on Python 2.7, EL5's (glibc 2.5).
# 3005.1 and 3000.8 are the lines EL6's and EL5's packages are upgraded from (older_salt of
# boxes/centos6.toml and centos5.toml).
OLD_GLIBC_LINES = {"3005.5": "3.9", "3005.1": "3.9", "3000.9": "2.7", "3000.8": "2.7"}
# 3005.5's setup.py prepares no metadata on the host's Python, so its requirements are
# read from its sdist (requirements/base.txt, zeromq.txt, crypto.txt) and held to the
# versions Salt tested it with (requirements/static/pkg/py3.9/linux.txt), each of which has
# a manylinux2010 or manylinux1 wheel (contextvars is pure Python, an sdist only).
SALT_3005 = [
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
]
# 3000.9's, as setup.py reads them on Python 2 (base.txt, crypto.txt, zeromq.txt; tornado
# is vendored as salt.ext.tornado 4.5.3, whose own needs are the backports and futures).
# Its crypto.txt names PyCrypto on Linux and pycryptodomex on Windows, and setup.py keeps
# both lines whatever their markers say: both are required (Salt takes Cryptodome
# first). psutil is not in base.txt, but Salt's py2.7 linux.txt has it.
SALT_3000 = [
    "Jinja2",
    "msgpack>=0.5,!=0.5.5,<1.0.0",
    "PyYAML",
    "MarkupSafe",
    "requests>=1.0.0",
    "backports-abc==0.5",
    "singledispatch==3.4.0.3",
    "futures>=2.0",
    "pycrypto>=2.6.1",
    "pycryptodomex",
    "pyzmq>=2.2.0",
    "psutil",
]
SDIST_REQUIREMENTS = {
    # The lines differ in pyzmq only (zeromq.txt on Python 3.9).
    "3005.5": [*SALT_3005, "pyzmq>=20.0.0"],
    "3005.1": [*SALT_3005, "pyzmq>19.0.2"],
    "3000.9": SALT_3000,
    "3000.8": SALT_3000,  # its requirements are 3000.9's
}
# What both 3005 lines were tested with (requirements/static/pkg/py3.9/linux.txt).
TESTED_WITH_3005 = [
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
    "pyzmq==23.2.0",
]
# requirements/static/py2.7/linux.txt and linux-crypto.txt of the 3000.9 sdist. Every
# compiled one is a cp27mu manylinux1 wheel (glibc 2.5) but psutil, which has none in any
# version (5.9's are manylinux2010), and PyCrypto, which has no wheel at all: their sdists
# compile on the box. PyCrypto 2.6.1 is the proof of concept's.
TESTED_WITH_3000 = [
    "backports-abc==0.5",
    "certifi==2019.3.9",
    "chardet==3.0.4",
    "futures==3.2.0",
    "idna==2.8",
    "jinja2==2.10.1",
    "markupsafe==1.1.1",
    "msgpack==0.5.6",
    "psutil==5.6.1",
    "pycrypto==2.6.1",
    "pycryptodomex==3.9.0",
    "pyyaml==5.4.1",  # Salt's 5.1.2 has no Linux wheel; 5.4.1 is the last for Python 2
    "pyzmq==18.0.1",
    "requests==2.21.0",
    "singledispatch==3.4.0.3",
    "six==1.12.0",
    "urllib3==1.24.2",
]
SALT_TESTED_WITH = {
    "3005.5": [
        *TESTED_WITH_3005,
        "certifi==2023.07.22",
        "charset-normalizer==3.2.0",
        "pyyaml==6.0",  # Salt's 6.0.1 has no wheel below glibc 2.17
        "requests==2.31.0",
        "urllib3==2.0.6",
    ],
    # Every compiled one of 3005.1's a manylinux2010 or manylinux1 wheel too (PyYAML 5.4.1's
    # cp39 is manylinux1).
    "3005.1": [
        *TESTED_WITH_3005,
        "certifi==2022.5.18.1",
        "chardet==3.0.4",
        "pyyaml==5.4.1",
        "requests==2.25.1",
        "urllib3==1.26.6",
    ],
    "3000.9": TESTED_WITH_3000,
    "3000.8": TESTED_WITH_3000,  # the same pins in its requirements/static
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
# 3005's time: its setup.py imports wheel.bdist_wheel and distutils' commands. On Python 2.7
# the index's Requires-Python leaves pip 20.3.4, setuptools 44.1.1 and wheel 0.37.1.
PLAIN_BUILD_BACKENDS = ["pip", "setuptools<70", "wheel<0.44"]
# Pythons uv cannot resolve for, and the wheels their target takes: Python 2.7's portable
# build is UCS-4 (cp27mu) on glibc 2.5 (manylinux1).
PIP_RESOLVED = {
    "2.7": frozenset(
        Tag(interpreter, abi, platform)
        for interpreter, abi, platform in [
            ("cp27", "cp27mu", "manylinux1_x86_64"),
            ("cp27", "none", "manylinux1_x86_64"),
            ("py27", "none", "manylinux1_x86_64"),
            ("py2", "none", "manylinux1_x86_64"),
            ("cp27", "none", "any"),
            ("py27", "none", "any"),
            ("py2", "none", "any"),
        ]
    )
}


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
    if python_minor in PIP_RESOLVED:
        return _compiled_by_pip(requirements, python_minor, constraints, no_deps)
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


def _compiled_by_pip(
    requirements: list[str], python_minor: str, constraints: tuple[str, ...], no_deps: bool
) -> str:
    """The lock of `requirements` for a Python uv cannot resolve for. A requirement whose
    pinned version has a wheel for the target is resolved by pip with its dependencies
    (wheels only); one that has only an sdist (salt, psutil) is taken at its pin, without
    dependencies (pip would have to run its setup.py on the host's Python 3)."""
    pins = {canonicalize_name(Requirement(c).name): c for c in constraints if "==" in c}
    wheels: list[str] = []
    versions: dict[str, str] = {}
    for text in requirements:
        req = Requirement(text)
        pin = Requirement(pins.get(canonicalize_name(req.name), text))
        version = next((s.version for s in pin.specifier if s.operator == "=="), None)
        if version is None or _has_wheel(req.name, version, PIP_RESOLVED[python_minor]):
            wheels.append(text)
        elif req.specifier.contains(version, prereleases=True):
            versions[canonicalize_name(req.name)] = version
        else:
            raise BuildError(f"{text}: its pin {pin} does not satisfy it")
    if wheels:
        versions |= _pip_resolve(wheels, python_minor, constraints, no_deps)
    return "".join(_hashed(name, versions[name]) for name in sorted(versions))


def _pip_resolve(
    requirements: list[str], python_minor: str, constraints: tuple[str, ...], no_deps: bool
) -> dict[str, str]:
    """name -> version, as the host's pip downloads `requirements` for the target's wheels
    (pip download: pip install --dry-run checks Requires-Python against the host's Python)."""
    with tempfile.TemporaryDirectory() as tmp:
        req, held = Path(tmp) / "requirements.in", Path(tmp) / "constraints.txt"
        req.write_text("\n".join(requirements) + "\n")
        held.write_text("\n".join(constraints) + "\n")
        argv = [sys.executable, "-m", "pip", "download", "--quiet", "-d", f"{tmp}/dl"]
        argv += ["--disable-pip-version-check", "--only-binary=:all:"]
        argv += ["--python-version", python_minor]
        tags = PIP_RESOLVED[python_minor]
        for option, values in (
            ("--implementation", {"cp"}),
            ("--abi", {t.abi for t in tags}),
            ("--platform", {t.platform for t in tags} - {"any"}),
        ):
            argv += [arg for value in sorted(values) for arg in (option, value)]
        argv += ["-c", str(held), "-r", str(req)] + (["--no-deps"] if no_deps else [])
        proc = subprocess.run(argv, capture_output=True, text=True)
        if proc.returncode != 0:
            tail = " ".join(proc.stderr.strip().splitlines()[-3:])
            raise BuildError(
                f"{' '.join(requirements)} does not resolve to wheels for Python "
                f"{python_minor} against the reachable index: {tail[:300]}"
            )
        wheels = [parse_wheel_filename(p.name) for p in Path(tmp, "dl").glob("*.whl")]
    return {str(name): str(version) for name, version, _, _ in wheels}


def _has_wheel(name: str, version: str, tags: frozenset[Tag]) -> bool:
    return any(f.tags and f.tags & tags for f in index.release_files(name, version))


def _hashed(name: str, version: str) -> str:
    """A pin with the hashes of all of its version's files, as uv --generate-hashes has it."""
    hashes = sorted({f.sha256 for f in index.release_files(name, version)})
    if not hashes:
        raise BuildError(f"{name}=={version}: the index has no wheel or sdist of it")
    return " \\\n    ".join([f"{name}=={version}", *(f"--hash=sha256:{h}" for h in hashes)]) + "\n"


def targets(salts: list[str] | None, pythons: list[str] | None) -> list[tuple[str, str]]:
    """(Salt line, Python minor) pairs to lock: the lines we ship (the default and older
    lines, each catalog entry's line and older lines: locks.shipped_lines) on each Python,
    and each old-glibc line on its own Python; narrowed by --salt and --python."""
    lines = salts or [*shipped_lines(), *OLD_GLIBC_LINES]
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
                print(compile_lock([f"salt=={salt}", *WITHOUT_CRYPT.get(py, [])], py, out))
    except BuildError as e:
        print(f"error: {e}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
