"""No package database: the packages are unpacked at / (centos7-abi's RPMs, with rpm2cpio
and busybox's cpio) and no scriptlet runs. Every query is unanswerable."""

from __future__ import annotations

from collections.abc import Sequence

from .base import PackageDb, quoted


class Unpacked(PackageDb, manager="none", formats=("rpm",)):
    why_none = "its RPMs are unpacked with rpm2cpio"
    daemons_start_on_install = False  # no scriptlet runs

    def installed(self, names: Sequence[str]) -> str:
        raise self._unsupported("installed-package query")

    def files(self, names: Sequence[str]) -> str:
        raise self._unsupported("file list")

    def unfinished(self, names: Sequence[str]) -> str:
        raise self._unsupported("audit")

    def verify(self, names: Sequence[str]) -> str:
        raise self._unsupported("verification")

    def conffiles(self, names: Sequence[str]) -> str:
        raise self._unsupported("conffile list")

    def unmet_requirements(self, names: Sequence[str]) -> str:
        raise self._unsupported("dependency check")

    def owner(self, path: str) -> str:
        raise self._unsupported("file owner query")

    def version_of(self, package: str) -> str:
        raise self._unsupported("installed-package query")

    def install(
        self, files: Sequence[str], downgrade: bool = False, unattended: bool = False
    ) -> str:
        return (
            f'cd / && for f in {quoted(files)}; do rpm2cpio "$f" | cpio -idmu 2>/tmp/cpio.err '
            "|| { cat /tmp/cpio.err; exit 1; }; done"
        )

    def remove(self, names: Sequence[str], purge: bool = False) -> str:
        raise self._unsupported("removal")

    def install_from_repositories(self, conflicts) -> str:
        raise self._unsupported("repositories")
