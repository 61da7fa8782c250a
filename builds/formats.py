"""Package formats: what builds/deb.py and builds/rpm.py offer the build, one interface.

A format module checks, before any box starts, what it refuses to build; packs a staged
payload into packages on the build box; and unpacks one of its packages on the host (the
ABI gate reads the files that ship, not the staging tree).
"""

from __future__ import annotations

import importlib
from pathlib import Path
from typing import NamedTuple, Protocol

from harness.catalog import Box

from .errors import BuildError
from .payload import StagedPayload
from .remote import BoxRunner

FORMATS = {"deb": "builds.deb", "rpm": "builds.rpm"}


class PackageFile(NamedTuple):
    """A package the build made: its name, version(-release), arch and file name."""

    name: str
    version: str
    arch: str
    file: str


class PackageFormat(Protocol):
    def check(self, box: Box, defect: str | None) -> None:
        """Raise BuildError for what this format does not build (before any box starts)."""

    def build(
        self, runner: BoxRunner, staged: StagedPayload, out_dir: str, box: Box
    ) -> list[PackageFile]:
        """Pack `staged` into packages in out_dir on the build box, for target `box`."""

    def unpack(self, package: Path, dest: Path) -> None:
        """Unpack the files of a package into dest on the host."""

    def unpack_command(self, package: str, dest: str) -> str:
        """The shell command that unpacks a package's files into dest on a build box."""

    def recipe(self) -> list[Path]:
        """The files of builds/ only this format reads: they decide its packages only."""


def format_module(package_format: str) -> PackageFormat:
    if package_format not in FORMATS:
        raise BuildError(
            f"no builder for package format {package_format!r} (known: {', '.join(FORMATS)})"
        )
    module: PackageFormat = importlib.import_module(FORMATS[package_format])
    return module
