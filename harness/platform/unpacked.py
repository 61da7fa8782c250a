"""No package database: the packages are unpacked at / (centos7-abi's RPMs, with rpm2cpio
and busybox's cpio) and no scriptlet runs. Every query is unanswerable."""

from __future__ import annotations

from .base import PackageDb

UNPACK = (
    'cd / && for f in {files}; do rpm2cpio "$f" | cpio -idmu 2>/tmp/cpio.err '
    "|| {{ cat /tmp/cpio.err; exit 1; }}; done"
)


COMMANDS = {"install": UNPACK, "install_unattended": UNPACK, "downgrade": UNPACK}

UNSUPPORTED = {
    "installed": "installed-package query",
    "files": "file list",
    "unfinished": "audit",
    "verify": "verification",
    "conffiles": "conffile list",
    "owner": "file owner query",
    "version_of": "installed-package query",
    "unmet_requirements": "dependency check",
    "remove": "removal",
    "purge": "purge",
}


class Unpacked(
    PackageDb, manager="none", formats=("rpm",), commands=COMMANDS, unsupported=UNSUPPORTED
):
    why_none = "its RPMs are unpacked with rpm2cpio"
    daemons_start_on_install = False  # no scriptlet runs

    def install_from_repositories(self, conflicts) -> str:
        raise self._unsupported("repositories")
