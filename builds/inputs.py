"""Inputs fetched once on the host, then copied into the build box (which has no network).

Cache layout (under ~/.cache/salt-venv-harness, $SVH_CACHE_DIR or $SVH_BUILD_CACHE_DIR):
  inputs/<key>/      wheels and sdists of a lock for one Python and glibc, plus build backends
  wheels/<key>/      wheels compiled on a box from the lock's sdists (salt, timelib, ...)
  python/<key>/      a bundled CPython built on a box, as a tarball of /opt/salt
  sources/           upstream source tarballs (CPython from Debian's mirror)
A directory is complete only once it has been renamed into place, so an interrupted
fetch never looks like a cached one.
"""

from __future__ import annotations

import shutil
from pathlib import Path

from packaging.tags import Tag

from harness import sources
from harness.errors import LoggedError
from harness.runner import run_logged
from harness.sources import cache_root, filling, pip_download_argv, sha256_file

from . import index
from .errors import BuildError
from .locks import digest, parse_lock

__all__ = ["cache_root", "fetch_url", "filling", "sha256_file"]

ARCH = "x86_64"


# The legacy manylinux names, by the glibc minor each stands for (PEP 600).
LEGACY_MANYLINUX = {17: "manylinux2014", 12: "manylinux2010", 5: "manylinux1"}


def platform_tags(glibc: str) -> list[str]:
    """pip --platform values a box with this glibc accepts, best first, each legacy name next
    to the glibc it stands for: no wheel may need a newer glibc than the box's (a 2.12 box
    takes manylinux2010 and manylinux1 wheels, never manylinux2014 ones)."""
    major, minor = (int(x) for x in glibc.split(".")[:2])
    tags = []
    for m in range(minor, 4, -1):
        tags.append(f"manylinux_{major}_{m}_{ARCH}")
        if m in LEGACY_MANYLINUX:
            tags.append(f"{LEGACY_MANYLINUX[m]}_{ARCH}")
    return [*tags, f"linux_{ARCH}"]


def abis(python_minor: str) -> list[str]:
    """pip --abi values of CPython `python_minor`. Python 2's ABI names its unicode width
    and has no abi3: the portable 2.7 is UCS-4 (cp27mu, what manylinux1 wheels are built for)."""
    nodot = python_minor.replace(".", "")
    if python_minor.startswith("2."):
        return [f"cp{nodot}mu", "none"]
    return [f"cp{nodot}", "abi3", "none"]


def inputs_key(lock_text: str, build_text: str, python_minor: str, glibc: str) -> str:
    return digest("inputs-v1", lock_text, build_text, python_minor, glibc, ARCH)[:20]


def pip_download(
    requirements: Path, dest: Path, python_minor: str, glibc: str, log: Path, what: str
):
    cmd = pip_download_argv(
        "--require-hashes",
        "-r",
        str(requirements),
        "-d",
        str(dest),
        "--python-version",
        python_minor,
        "--implementation",
        "cp",
    )
    for abi in abis(python_minor):
        cmd += ["--abi", abi]
    for tag in [*platform_tags(glibc), "any"]:
        cmd += ["--platform", tag]
    run_logged(cmd, log, what, error=BuildError)


def accepted_tags(python_minor: str, glibc: str) -> list[Tag]:
    """The wheel tags a box with this Python and glibc takes, best first."""
    major, nodot = python_minor[0], python_minor.replace(".", "")
    interpreters = [f"cp{nodot}", f"py{nodot}", f"py{major}"]
    return [
        Tag(interpreter, abi, platform)
        for platform in [*platform_tags(glibc), "any"]
        for abi in abis(python_minor)
        for interpreter in interpreters
    ]


def fetch_by_hash(
    requirements: Path, dest: Path, python_minor: str, glibc: str, log: Path, what: str
):
    """Each pin's best wheel for the box, else its sdist, chosen among the files whose hash
    the lock names and downloaded by URL. Python 2's inputs come this way: pip on the host's
    Python 3 would run an sdist's setup.py to read its metadata, and Salt 3000's needs
    platform.linux_distribution, which Python 3.8 removed."""
    accepted = accepted_tags(python_minor, glibc)
    dest.mkdir(parents=True, exist_ok=True)
    for pin in parse_lock(requirements.read_text(), str(requirements)):
        files = [f for f in index.release_files(pin.name, pin.version) if f.sha256 in pin.hashes]
        ranked = sorted(
            (min(accepted.index(t) for t in f.tags if t in accepted), f.filename, f)
            for f in files
            if f.tags and not f.tags.isdisjoint(accepted)
        )
        chosen = ranked[0][2] if ranked else next((f for f in files if f.tags is None), None)
        if chosen is None:
            raise BuildError(
                f"{what}: {pin.name}=={pin.version}: no file with a locked hash fits Python "
                f"{python_minor} on glibc {glibc}; regenerate the lock: python -m builds.lockgen"
            )
        shutil.copy(fetch_url(chosen.url, chosen.sha256, log), dest / chosen.filename)


def fetch_inputs(
    lock: Path, build_lock: Path, python_minor: str, glibc: str, log: Path, progress=print
) -> Path:
    """Wheels/sdists of `lock` (for the box's Python and glibc) plus build backends, cached."""
    lock_text, build_text = lock.read_text(), build_lock.read_text()
    parse_lock(lock_text, str(lock))
    parse_lock(build_text, str(build_lock))
    final = cache_root() / "inputs" / inputs_key(lock_text, build_text, python_minor, glibc)
    if final.is_dir():
        progress(f"inputs: cached {final}")
        return final
    progress(f"inputs: fetching {lock.name} for Python {python_minor}, glibc {glibc}")
    fetch = fetch_by_hash if python_minor.startswith("2.") else pip_download
    with filling(final) as tmp:
        for requirements, into in ((lock, tmp / "dist"), (build_lock, tmp / "build")):
            fetch(
                requirements,
                into,
                python_minor,
                glibc,
                log,
                f"fetching {requirements.name} from the index",
            )
        shutil.copy(lock, tmp / "lock.txt")
        shutil.copy(build_lock, tmp / "build-lock.txt")
    return final


SDIST_SUFFIXES = (".tar.gz", ".zip", ".tar.bz2")


def sdists(inputs: Path) -> list[Path]:
    """The inputs that must be compiled on the box (no wheel for this Python/platform)."""
    return sorted(p for p in (inputs / "dist").iterdir() if p.name.endswith(SDIST_SUFFIXES))


def fetch_url(url: str, sha256: str, log: Path) -> Path:
    """A source tarball, downloaded once and checked against its pinned hash."""
    try:
        return sources.fetch_url(url, sha256, log)
    except LoggedError as e:
        raise BuildError(e.message, e.log) from None
