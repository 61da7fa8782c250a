"""The rpm database, and yum for installs (EL5-7)."""

from __future__ import annotations

import shlex
from collections.abc import Sequence

from .base import PackageDb, quoted


class RpmDb(PackageDb, manager="yum", formats=("rpm",)):
    daemons_start_on_install = False  # EL's presets (disable *): %post only presets

    def salt_pkg_module(self) -> str:
        return "yumpkg"

    def installed(self, names: Sequence[str]) -> str:
        query = "rpm -q --qf '%{NAME} %{VERSION}-%{RELEASE}\\n'"
        return f"{query} {quoted(names)} | grep -v 'not installed' || true"

    def files(self, names: Sequence[str]) -> str:
        return f"rpm -ql {quoted(names)}"

    def unfinished(self, names: Sequence[str]) -> str:
        # rpm has no half-configured state: files that differ (an admin's edits of
        # configs are no sign of an interrupted transaction)
        return f"rpm -V --nodeps --noconfig {quoted(names)} || true"

    def verify(self, names: Sequence[str]) -> str:
        # files only: dependencies are the dependency check's
        return f"rpm -V --nodeps {quoted(names)} || true"

    def conffiles(self, names: Sequence[str]) -> str:
        return f"rpm -qc {quoted(names)}"

    def unmet_requirements(self, names: Sequence[str]) -> str:
        return (
            f"rpm -qR {quoted(names)} | grep -v '^rpmlib(' | awk '{{print $1}}' | sort -u "
            "| while read -r req; do "
            'rpm -q --whatprovides "$req" >/dev/null 2>&1 || echo "$req"; done'
        )

    def owner(self, path: str) -> str:
        return f"rpm -qf --qf '%{{NAME}}\\n' {shlex.quote(path)} 2>/dev/null || true"

    def version_of(self, package: str) -> str:
        return f"rpm -q --qf '%{{VERSION}}-%{{RELEASE}}' {shlex.quote(package)} 2>/dev/null || true"

    def install(
        self, files: Sequence[str], downgrade: bool = False, unattended: bool = False
    ) -> str:
        # yum never asks about configs: unattended or not is the same run.
        action = "downgrade" if downgrade else "localinstall"
        return f"yum -y -q --disablerepo='*' {action} {quoted(files)}"

    def remove(self, names: Sequence[str], purge: bool = False) -> str:
        # rpm has no purge: an erase leaves edited configs as .rpmsave.
        return f"yum -y -q remove {quoted(names)}"

    def packaged_digest(self, config: str) -> str:
        path = shlex.quote(config)
        query = "rpm -qf --qf '[%{FILENAMES} %{FILEDIGESTS}\\n]'"
        return f"{query} {path} | awk -v p={path} '$1 == p {{print $2}}'"

    def new_config_set_aside(self, config: str) -> str:
        return f"{config}.rpmnew"  # %config(noreplace): the edit stays, the new one beside it

    def edited_config_after_removal(self, config: str, purge: bool) -> str | None:
        return f"{config}.rpmsave"  # remove and erase are one: the edit is set aside

    def install_from_repositories(self, conflicts) -> str:
        packages = quoted([c.package for c in conflicts])
        epel = (
            "yum install -y -q epel-release; " if any(c.repo == "epel" for c in conflicts) else ""
        )
        # CentOS 5-7 are end of life: their repositories moved to vault.centos.org.
        return (
            "set -e; sed -i -e 's/^mirrorlist=/#mirrorlist=/' "
            "-e 's|^#\\?baseurl=http://mirror.centos.org|baseurl=http://vault.centos.org|' "
            f"/etc/yum.repos.d/CentOS-*.repo; {epel}yum install -y -q {packages}"
        )
