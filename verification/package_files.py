"""What one .deb or .rpm file says of itself, read on the host with dpkg-deb or rpm: its name,
version and architecture, and every entry of its payload (path, kind, mode, link target).
Nothing here needs a manifest: these are the facts any package carries."""

from __future__ import annotations

import functools
import io
import stat
import tarfile
from dataclasses import dataclass
from pathlib import Path

from harness.errors import HarnessError
from harness.runner import capture

FORMATS = {".deb": "deb", ".rpm": "rpm"}


@dataclass(frozen=True)
class Entry:
    """One path a package installs."""

    path: str  # absolute
    kind: str  # "file", "link" or "dir"
    mode: int  # permission bits
    target: str = ""  # a link's target, as written

    @property
    def executable(self) -> bool:
        return self.kind == "file" and bool(self.mode & 0o111)


@dataclass(frozen=True)
class Header:
    name: str
    version: str  # [EPOCH:]VERSION-RELEASE, as the package manager compares it
    arch: str


def format_of(path: Path) -> str | None:
    return FORMATS.get(path.suffix)


@functools.cache
def header(path: Path) -> Header:
    """Name, version and architecture; a file that is no package is one line."""
    if format_of(path) == "rpm":
        query = [
            "rpm",
            "-qp",
            "--nosignature",
            "--qf",
            "%{NAME}\\n%{EPOCHNUM}\\n%{VERSION}-%{RELEASE}\\n%{ARCH}\\n",
        ]
        found = capture([*query, str(path)], check=False)
        fields = found.stdout.splitlines()
        if found.returncode != 0 or len(fields) != 4:
            raise HarnessError(f"{path}: not an RPM package rpm can read ({_first(found.stderr)})")
        name, epoch, version, arch = fields
        return Header(name, version if epoch == "0" else f"{epoch}:{version}", arch)
    found = capture(
        ["dpkg-deb", "-f", str(path), "Package", "Version", "Architecture"], check=False
    )
    fields = dict(line.split(": ", 1) for line in found.stdout.splitlines() if ": " in line)
    if found.returncode != 0 or "Package" not in fields:
        raise HarnessError(
            f"{path}: not a Debian package dpkg-deb can read ({_first(found.stderr)})"
        )
    return Header(fields["Package"], fields.get("Version", ""), fields.get("Architecture", ""))


def _first(text: str) -> str:
    return (text.strip().splitlines() or ["no output"])[0]


@functools.cache
def entries(path: Path) -> tuple[Entry, ...]:
    """Every path the package installs, directories included, in the package's order."""
    if format_of(path) == "rpm":
        listing = capture(
            [
                "rpm",
                "-qp",
                "--nosignature",
                "--qf",
                "[%{FILEMODES}\\t%{FILENAMES}\\t%{FILELINKTOS}\\n]",
                str(path),
            ],
            check=True,
        ).stdout
        found = []
        for line in listing.splitlines():
            mode, name, target = [*line.split("\t"), "", ""][:3]
            if name:
                found.append(Entry(name, _kind(int(mode)), stat.S_IMODE(int(mode)), target))
        return tuple(found)
    tar = capture(["dpkg-deb", "--fsys-tarfile", str(path)], check=True, text=False).stdout
    with tarfile.open(fileobj=io.BytesIO(tar)) as archive:
        return tuple(
            Entry(
                m.name.removeprefix(".").rstrip("/") or "/",
                "dir" if m.isdir() else "link" if m.issym() else "file",
                m.mode & 0o7777,
                m.linkname if m.issym() else "",
            )
            for m in archive.getmembers()
        )


@dataclass(frozen=True)
class Relation:
    """One Provides or Requires (Depends) entry: a name, and the version it is pinned to."""

    name: str
    version: str = ""  # after "=" (RPM) or "(= ...)" (DEB); empty when unpinned or ranged


@functools.cache  # one package set is checked on every box that verifies it
def relations(package: Path) -> dict[str, list[Relation]]:
    """What a package file provides and requires, read on the host: {provides, requires}.
    A DEB's requires are its Pre-Depends, Depends and Recommends, alternatives each."""
    if package.suffix == ".rpm":
        return {kind: _rpm_relations(package, kind) for kind in ("provides", "requires")}
    fields = {"provides": ["Provides"], "requires": ["Pre-Depends", "Depends", "Recommends"]}
    return {kind: _deb_relations(package, names) for kind, names in fields.items()}


def _rpm_relations(package: Path, kind: str) -> list[Relation]:
    listing = capture(["rpm", "-qp", f"--{kind}", str(package)], check=True).stdout
    found = []
    for line in listing.splitlines():
        name, _, rest = line.strip().partition(" ")
        op, _, version = rest.partition(" ")
        found.append(Relation(name, version if op == "=" else ""))
    return found


def _deb_relations(package: Path, fields: list[str]) -> list[Relation]:
    found = []
    for field_name in fields:
        value = capture(["dpkg-deb", "-f", str(package), field_name], check=True).stdout
        for entry in value.replace("|", ",").split(","):
            name, _, rest = entry.strip().partition(" ")
            pinned = rest.strip("() ")
            if name:
                found.append(Relation(name, pinned[2:] if pinned.startswith("= ") else ""))
    return found


def _kind(mode: int) -> str:
    return "dir" if stat.S_ISDIR(mode) else "link" if stat.S_ISLNK(mode) else "file"
