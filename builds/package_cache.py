"""Finished package sets kept on the host, keyed by the digest of everything that decides
their content (manifest.inputs_digest): an unchanged recipe is never rebuilt, also in a
fresh checkout whose dist/ is empty (CI). Layout: <cache>/packages/<output name>-<digest>/.
"""

from __future__ import annotations

import json
import shutil
import tempfile
from pathlib import Path

from .inputs import cache_root


def _entry(name: str, digest: str) -> Path:
    return cache_root() / "packages" / f"{name}-{digest}"


def is_current(directory: Path, digest: str) -> bool:
    try:
        return json.loads((directory / "manifest.json").read_text()).get("inputs_digest") == digest
    except (OSError, ValueError):
        return False


def restore(name: str, digest: str, staging: Path) -> bool:
    """Copy a cached set for `name` and `digest` into `staging`; False when there is none."""
    entry = _entry(name, digest)
    if not is_current(entry, digest):
        return False
    for f in entry.iterdir():
        shutil.copy2(f, staging / f.name)
    return True


def store(name: str, digest: str, built: Path):
    """Keep a finished set; older digests of the same output go."""
    entry = _entry(name, digest)
    entry.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{entry.name}-", dir=entry.parent))
    try:
        for f in built.iterdir():
            if f.is_file():
                shutil.copy2(f, tmp / f.name)
        shutil.rmtree(entry, ignore_errors=True)
        tmp.rename(entry)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    for old in entry.parent.glob(f"{name}-*"):
        if (
            old != entry
            and old.name.removeprefix(f"{name}-").isalnum()
            and len(old.name) == len(entry.name)
        ):
            shutil.rmtree(old, ignore_errors=True)
