"""An rpm database with rpm itself for installs, on a Debian root under systemd (centos7-rpm):
the EL7 RPMs' scriptlets run as rpm orders them, against a database that holds what EL7's
base provides and nothing else.

rpm has no resolver here (no yum, no repositories): every Requires must be met by the
database, never waved through with --nodeps. Debian's rpm refuses to install unless told
`--force-debian`, which changes nothing else.
"""

from __future__ import annotations

import shlex
from collections.abc import Sequence

from .base import Unsupported, literal
from .yum import RpmDb

RPM = "rpm --force-debian"
# What an EL7 base system provides that our RPMs require, and EL7's preset policy (its
# systemd ships 99-default-disable.preset: installing a package enables none of its units).
BASE_PACKAGE = "el7-base"
BASE_PROVIDES = ("/bin/sh", "glibc", "libstdc++", "logrotate", "systemd")
PRESET = "/usr/lib/systemd/system-preset/99-default-disable.preset"
# The distribution's RPMs the image installed (NAME.rpm) and each one's update, the same
# files under a higher release (upgrade/NAME.rpm): the box has no repository to get them from.
DISTRO_RPMS = "/var/cache/svh-distro-rpms"
BASE_SPEC = f"""Name: {BASE_PACKAGE}
Version: 7
Release: 1
Summary: What an EL7 base system provides, for packages installed with rpm on this box
License: none
BuildArch: noarch
{"".join(f"Provides: {p}{chr(10)}" for p in BASE_PROVIDES)}
%description
Stands for EL7's glibc, libstdc++, logrotate, systemd and /bin/sh.
%install
mkdir -p %{{buildroot}}{PRESET.rsplit("/", 1)[0]}
echo 'disable *' > %{{buildroot}}{PRESET}
%files
{PRESET}
"""


def _ensure_base() -> str:
    """Builds and installs the base package once per box (a second call finds it)."""
    top = "/var/tmp/svh-el7-base"
    return (
        f"{{ rpm -q {BASE_PACKAGE} >/dev/null 2>&1 || {{ rm -rf {top} && mkdir -p {top} && "
        f"cat > {top}/base.spec <<'SPEC'\n{BASE_SPEC}SPEC\n"
        f"rpmbuild -bb --quiet --define '_topdir {top}' {top}/base.spec >{top}/build.log 2>&1 "
        f"&& {RPM} -i {top}/RPMS/noarch/{BASE_PACKAGE}-*.rpm; }} || "
        f"{{ cat {top}/build.log; exit 1; }}; }}"
    )


# rpm never asks about configs: an edited one stays, the new one lands as .rpmnew.
# -U runs rpm's own order: new %pre, files, new %post, old %preun, old %postun.
# rpm has no purge: an erase leaves each edited config as .rpmsave.
UPGRADE = f"{literal(_ensure_base())} && {RPM} -U --replacepkgs"
ERASE = f"{RPM} -e {{names}}"
COMMANDS = {
    "install": f"{UPGRADE} {{files}}",
    "install_unattended": f"{UPGRADE} {{files}}",
    "downgrade": f"{UPGRADE} --oldpackage {{files}}",
    "remove": ERASE,
    "purge": ERASE,
}


class RpmOnly(RpmDb, manager="rpm", formats=("rpm",), commands=COMMANDS):
    image_packages = ("rpm",)

    def self_upgrade(self, packages: Sequence[tuple[str, str]]) -> tuple[str, list[str]]:
        # Salt's pkg module follows the box's os-release (Debian: aptpkg), not its rpm
        # database: rpm through cmd.run_bg, in a scope of its own as Salt's yumpkg runs yum,
        # so the minion's restart by %postun neither kills the upgrade nor waits for it.
        command = self.install([file for _, file in packages])
        return "cmd.run_bg", [f"systemd-run --scope --quiet sh -c {shlex.quote(command)}"]

    def change_distro_package(self, package: str, change: str) -> str:
        rpm = f"{DISTRO_RPMS}/{package}.rpm"
        commands = {
            "upgrade": f"{RPM} -U {DISTRO_RPMS}/upgrade/{package}.rpm",
            "downgrade": f"{RPM} -U --oldpackage {rpm}",
            "remove": f"{RPM} -e {package}",
            "reinstall": f"{RPM} -U --oldpackage --replacepkgs {rpm}",
        }
        return commands[change]

    def salt_pkg_module(self) -> str:
        raise Unsupported(
            f"{self.box.name}: Salt's pkg module follows the box's os-release (Debian: aptpkg), "
            "not its rpm database"
        )

    def install_from_repositories(self, conflicts) -> str:
        raise Unsupported(f"{self.box.name}: no repositories (rpm alone, no yum or dnf)")
