"""Find the Debian mirror the host's apt is configured with (one-line and deb822 formats)."""

from __future__ import annotations

import re
from pathlib import Path

from . import settings
from .errors import HarnessError


def _entries(apt_dir: Path):
    """Yield (uri, suite) for every enabled 'deb' source."""
    files = [apt_dir / "sources.list", *sorted((apt_dir / "sources.list.d").glob("*"))]
    for f in files:
        try:
            text = f.read_text()
        except OSError:
            continue
        if f.suffix == ".sources":
            for stanza in text.split("\n\n"):
                fields = {}
                for line in stanza.splitlines():
                    if line.startswith("#") or ":" not in line or line[:1].isspace():
                        continue
                    key, _, value = line.partition(":")
                    fields[key.strip().lower()] = value.split()
                if "deb" in fields.get("types", []) and fields.get("enabled", ["yes"]) != ["no"]:
                    for uri in fields.get("uris", []):
                        for suite in fields.get("suites", []):
                            yield uri, suite
        elif f.suffix == ".list" or f.name == "sources.list":
            for line in text.splitlines():
                # drop "[arch=... signed-by=...]" options, which may hold spaces
                words = re.sub(r"\[[^\]]*\]", "", line.split("#", 1)[0]).split()
                if len(words) >= 3 and words[0] == "deb":
                    yield words[1], words[2]


def debian_mirrors(apt_dir: Path = Path("/etc/apt")) -> tuple[str | None, str | None]:
    """(archive mirror, security mirror) serving Debian suites, or None where not found."""
    archive = security = None
    for uri, suite in _entries(apt_dir):
        uri = uri.rstrip("/")
        if suite.endswith("-security"):
            security = security or uri
        elif uri.endswith("/debian") or "debian" in uri.rsplit("/", 1)[-1]:
            archive = archive or uri
    return archive, security


def source_mirror(purpose: str) -> str:
    """The Debian mirror to fetch source packages from ($SVH_DEBIAN_MIRROR, else the host's
    apt mirror), without a trailing slash; one line saying what to do when there is none."""
    mirror = settings.current().text("SVH_DEBIAN_MIRROR") or debian_mirrors()[0]
    if not mirror:
        raise HarnessError(
            f"no Debian mirror in /etc/apt/sources*: set SVH_DEBIAN_MIRROR to fetch {purpose}"
        )
    return mirror.rstrip("/")
