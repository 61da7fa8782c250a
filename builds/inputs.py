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

import hashlib
import os
import shutil
import sys
import tempfile
import urllib.request
from contextlib import contextmanager
from pathlib import Path

from harness.runner import run_logged

from .errors import BuildError
from .locks import digest, parse_lock

ARCH = "x86_64"


def cache_root() -> Path:
    """The build caches: $SVH_BUILD_CACHE_DIR, else the harness's cache dir."""
    if os.environ.get("SVH_BUILD_CACHE_DIR"):
        return Path(os.environ["SVH_BUILD_CACHE_DIR"])
    from harness.paths import cache_dir

    return cache_dir()


@contextmanager
def filling(final: Path):
    """A temp dir next to `final` that becomes `final` only if the block completes."""
    final.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=".fill-", dir=final.parent))
    try:
        yield tmp
        try:
            tmp.rename(final)
        except OSError:  # another build filled it meanwhile
            if not final.is_dir():
                raise
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def platform_tags(glibc: str) -> list[str]:
    """pip --platform values a box with this glibc accepts, best first."""
    major, minor = (int(x) for x in glibc.split(".")[:2])
    tags = [f"manylinux_{major}_{m}_{ARCH}" for m in range(minor, 16, -1)]
    return [
        *tags,
        f"manylinux2014_{ARCH}",
        f"manylinux2010_{ARCH}",
        f"manylinux1_{ARCH}",
        f"linux_{ARCH}",
    ]


def inputs_key(lock_text: str, build_text: str, python_minor: str, glibc: str) -> str:
    return digest("inputs-v1", lock_text, build_text, python_minor, glibc, ARCH)[:20]


def sha256_file(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def pip_download(
    requirements: Path, dest: Path, python_minor: str, glibc: str, log: Path, what: str
):
    abi = "cp" + python_minor.replace(".", "")
    cmd = [
        sys.executable,
        "-m",
        "pip",
        "download",
        "--disable-pip-version-check",
        "--no-deps",
        "--require-hashes",
        "-r",
        str(requirements),
        "-d",
        str(dest),
        "--python-version",
        python_minor,
        "--implementation",
        "cp",
        "--abi",
        abi,
        "--abi",
        "abi3",
        "--abi",
        "none",
    ]
    for tag in [*platform_tags(glibc), "any"]:
        cmd += ["--platform", tag]
    run_logged(cmd, log, what, error=BuildError)


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
    with filling(final) as tmp:
        pip_download(
            lock, tmp / "dist", python_minor, glibc, log, f"fetching {lock.name} from the index"
        )
        pip_download(
            build_lock,
            tmp / "build",
            python_minor,
            glibc,
            log,
            f"fetching {build_lock.name} from the index",
        )
        shutil.copy(lock, tmp / "lock.txt")
        shutil.copy(build_lock, tmp / "build-lock.txt")
    return final


def sdists(inputs: Path) -> list[Path]:
    """The inputs that must be compiled on the box (no wheel for this Python/platform)."""
    return sorted(
        p for p in (inputs / "dist").iterdir() if p.name.endswith((".tar.gz", ".zip", ".tar.bz2"))
    )


def fetch_url(url: str, sha256: str, log: Path) -> Path:
    """A source tarball, downloaded once and checked against its pinned hash."""
    dest = cache_root() / "sources" / url.rsplit("/", 1)[1]
    if dest.exists() and sha256_file(dest) == sha256:
        return dest
    dest.parent.mkdir(parents=True, exist_ok=True)
    tmp = dest.with_name(dest.name + ".part")
    try:
        with urllib.request.urlopen(url, timeout=120) as r, open(tmp, "wb") as f:
            shutil.copyfileobj(r, f)
    except OSError as e:
        tmp.unlink(missing_ok=True)
        raise BuildError(f"cannot download {url}: {e}", log)
    got = sha256_file(tmp)
    if got != sha256:
        tmp.unlink(missing_ok=True)
        raise BuildError(f"{url}: sha256 {got} is not the pinned {sha256}", log)
    tmp.rename(dest)
    return dest
