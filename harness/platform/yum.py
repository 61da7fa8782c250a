"""The rpm database, and yum for installs (EL5-7)."""

from __future__ import annotations

import re

from .base import PackageDb, quoted

LOCALINSTALL = "yum -y -q --disablerepo='*' localinstall {files}"
ERASE = "yum -y -q remove {names}"
COMMANDS = {
    "installed": "rpm -q --qf '%{{NAME}} %{{VERSION}}-%{{RELEASE}}\\n' {names} "
    "| grep -v 'not installed' || true",
    "files": "rpm -ql {names}",
    # rpm has no half-configured state: files that differ (an admin's edits of configs
    # are no sign of an interrupted transaction).
    "unfinished": "rpm -V --nodeps --noconfig {names} || true",
    "verify": "rpm -V --nodeps {names} || true",  # files only: dependencies are apart
    "conffiles": "rpm -qc {names}",
    "owner": "rpm -qf --qf '%{{NAME}}\\n' {path} 2>/dev/null || true",
    "version_of": "rpm -q --qf '%{{VERSION}}-%{{RELEASE}}' {package} 2>/dev/null || true",
    "packaged_digest": "rpm -qf --qf '[%{{FILENAMES}} %{{FILEDIGESTS}}\\n]' {config} "
    "| awk -v p={config} '$1 == p {{print $2}}'",
    "unmet_requirements": "rpm -qR {names} | grep -v '^rpmlib(' | awk '{{print $1}}' "
    "| sort -u | while read -r req; do "
    'rpm -q --whatprovides "$req" >/dev/null 2>&1 || echo "$req"; done',
    "unpack_here": 'for f in {files}; do rpm2cpio "$f" | cpio -idm --quiet; done',
    # yum never asks about configs: unattended or not is the same run.
    "install": LOCALINSTALL,
    "install_unattended": LOCALINSTALL,
    "downgrade": "yum -y -q --disablerepo='*' downgrade {files}",
    # rpm has no purge: an erase leaves edited configs as .rpmsave.
    "remove": ERASE,
    "purge": ERASE,
}


class RpmDb(PackageDb, manager="yum", formats=("rpm",), commands=COMMANDS):
    daemons_start_on_install = False  # EL's presets (disable *): %post only presets

    def salt_pkg_module(self) -> str:
        return "yumpkg"

    @property
    def knows_tilde(self) -> bool:
        return int(self.box.rpm_target or 7) >= 7  # EL6's rpm is 4.8, EL5's 4.4

    def sorts_before(self, older: str, newer: str) -> str:
        # rpm's own rpmvercmp, on VERSION and then on RELEASE, as rpm orders packages: its
        # Lua's rpm.vercmp on a whole VERSION-RELEASE differs between rpm versions.
        assert all(re.fullmatch(r"[\w.~+-]+", v) for v in (older, newer)), (older, newer)
        evr = "local function evr(s) return s:match('^(.*)-([^-]*)$') end"
        compare = (
            f"local v1, r1 = evr('{older}'); local v2, r2 = evr('{newer}'); "
            "local c = rpm.vercmp(v1, v2); if c == 0 then c = rpm.vercmp(r1, r2) end; print(c)"
        )
        return f'test "$(rpm --eval "%{{lua: {evr} {compare}}}")" = -1'

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
