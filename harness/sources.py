"""Sources fetched once into the build cache, checked against pinned hashes, shared by the
build module and the image makers (the glibc 2.17 box compiles its SSH server).

Cache root: $SVH_BUILD_CACHE_DIR, else the harness's cache dir. A directory is complete
only once it has been renamed into place (filling), so an interrupted fetch never looks
like a cached one.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import sys
import tempfile
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from . import settings, state
from .errors import LoggedError
from .paths import cache_dir


def cache_root() -> Path:
    """The build caches: $SVH_BUILD_CACHE_DIR, else the harness's cache dir."""
    return settings.current().path("SVH_BUILD_CACHE_DIR", cache_dir())


@contextmanager
def filling(final: Path) -> Iterator[Path]:
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


def sha256_file(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def pip_download_argv(*args: str) -> list[str]:
    """pip download, by the harness's own Python, of exactly what args name."""
    return [
        sys.executable,
        "-m",
        "pip",
        "download",
        "--disable-pip-version-check",
        "--no-deps",
        *args,
    ]


def digest(*parts: str | bytes) -> str:
    """sha256 over the parts, each one delimited: a cache key."""
    h = hashlib.sha256()
    for part in parts:
        h.update(part.encode() if isinstance(part, str) else part)
        h.update(b"\0")
    return h.hexdigest()


def fetch_url(url: str, sha256: str, log: Path) -> Path:
    """A source tarball, downloaded once and checked against its pinned hash. Builds that
    run side by side (the EL7 lane and debian11 both need python3.11's source) take turns:
    the second finds the first one's download."""
    dest = cache_root() / "sources" / url.rsplit("/", 1)[1]
    dest.parent.mkdir(parents=True, exist_ok=True)
    with state.locked(dest.with_name(f".{dest.name}.lock")):
        if dest.exists() and sha256_file(dest) == sha256:
            return dest
        tmp = dest.with_name(f"{dest.name}.part-{os.getpid()}")
        try:
            with urllib.request.urlopen(url, timeout=120) as r, open(tmp, "wb") as f:
                shutil.copyfileobj(r, f)
        except OSError as e:
            tmp.unlink(missing_ok=True)
            raise LoggedError(f"cannot download {url}: {e}", log) from None
        got = sha256_file(tmp)
        if got != sha256:
            tmp.unlink(missing_ok=True)
            raise LoggedError(f"{url}: sha256 {got} is not the pinned {sha256}", log)
        tmp.rename(dest)
    return dest
