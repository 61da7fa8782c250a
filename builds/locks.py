"""Lock files: one per Salt release and Python minor, with hashes (pip --require-hashes format)."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

from harness import catalog, settings
from harness.sources import digest

from .errors import BuildError

__all__ = ["digest"]

LOCK_DIR = Path(__file__).resolve().parent / "locks"
DEFAULT_SALT = "3008.4"
# The lines the lifecycle upgrades from and downgrades to, as Salt's own package tests do:
# the previous line and the LTS line.
OLDER_LINES = ("3007.16", "3006.29")

_REQ = re.compile(r"^([A-Za-z0-9][A-Za-z0-9._-]*)==([^\s;\\]+)")
_HASH = re.compile(r"--hash=sha256:([0-9a-f]{64})")


@dataclass
class Pin:
    name: str
    version: str
    hashes: list[str] = field(default_factory=list)

    @property
    def key(self) -> str:
        return canonical(self.name)

    def requirement(self) -> str:
        lines = [f"{self.name}=={self.version}"] + [f"--hash=sha256:{h}" for h in self.hashes]
        return " \\\n    ".join(lines)


def canonical(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def parse_lock(text: str, source: str = "lock") -> list[Pin]:
    """Pins of a `uv pip compile --generate-hashes` / pip-compile file; every pin needs a hash."""
    pins: list[Pin] = []
    # Join continuation lines first: a requirement and its hashes form one logical line.
    logical = re.sub(r"\\\s*\n", " ", text)
    for _, raw in enumerate(logical.splitlines(), 1):
        line = raw.split(" #", 1)[0].strip()
        if not line or line.startswith("#"):
            continue
        m = _REQ.match(line)
        if not m:
            raise BuildError(
                f"{source}: cannot read line {raw.strip()[:60]!r}: "
                "expected NAME==VERSION --hash=..."
            )
        hashes = _HASH.findall(line)
        if not hashes:
            raise BuildError(
                f"{source}: {m.group(1)}=={m.group(2)} has no --hash "
                "(regenerate with python -m builds.lockgen)"
            )
        pins.append(Pin(m.group(1), m.group(2), hashes))
    if not pins:
        raise BuildError(f"{source}: no pins")
    return pins


def lock_dir() -> Path:
    """builds/locks, or $SVH_LOCK_DIR (a test's own locks)."""
    return settings.current().path("SVH_LOCK_DIR", LOCK_DIR)


def box_line(box_name: str) -> str:
    """The Salt line a box's packages carry unless another is asked for."""
    return catalog.load_box(box_name).salt or DEFAULT_SALT


def older_lines(box_name: str, boxes_dir: Path | None = None) -> tuple[str, ...]:
    """The Salt lines the lifecycle upgrades a box's packages from: its catalog entry's
    older_salt, or OLDER_LINES. `box_name` is the box the packages are built for (the
    packages_of of a box that verifies another's)."""
    older = catalog.load_box(box_name, boxes_dir).older_salt
    return OLDER_LINES if older is None else tuple(older)


def shipped_lines(boxes_dir: Path | None = None) -> list[str]:
    """Every Salt line a package set is built of: the default and older lines, and each
    catalog entry's own line and older lines."""
    lines = [DEFAULT_SALT, *OLDER_LINES]
    for box in catalog.load_catalog(boxes_dir).values():
        lines += [box.salt] if box.salt else []
        lines += box.older_salt or []
    return list(dict.fromkeys(lines))


def lock_name(salt_version: str, python_minor: str) -> str:
    return f"salt-{salt_version}-py{python_minor}.txt"


def available() -> dict[str, list[str]]:
    """Salt version -> Python minors that have a lock."""
    out: dict[str, list[str]] = {}
    for p in sorted(lock_dir().glob("salt-*-py*.txt")):
        m = re.match(r"salt-(.+)-py(\d+\.\d+)\.txt$", p.name)
        if m:
            out.setdefault(m.group(1), []).append(m.group(2))
    return out


def salt_lock(salt_version: str, python_minor: str) -> Path:
    path = lock_dir() / lock_name(salt_version, python_minor)
    if path.exists():
        return path
    have = available()
    if salt_version in have:
        raise BuildError(
            f"Salt {salt_version} has no lock for Python {python_minor} "
            f"(locked for Python {', '.join(have[salt_version])}); "
            f"run: python -m builds.lockgen --salt {salt_version} --python {python_minor}"
        )
    known = ", ".join(sorted(have)) or "none"
    raise BuildError(
        f"unknown Salt version {salt_version!r} (locked: {known}); "
        f"run: python -m builds.lockgen --salt {salt_version} --python {python_minor}"
    )


def build_lock(python_minor: str) -> Path:
    """Build backends for the sdists that compile on the box (setuptools, wheel, Cython, ...)."""
    path = lock_dir() / f"build-py{python_minor}.txt"
    if not path.exists():
        raise BuildError(
            f"no build-backend lock for Python {python_minor}; "
            f"run: python -m builds.lockgen --python {python_minor}"
        )
    return path
