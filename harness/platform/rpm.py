"""An rpm database with rpm itself for installs, on a Debian root (centos7-rpm under systemd,
centos6-rpm under EL's SysV): the EL7 or EL6 RPMs' scriptlets run as rpm orders them, against
a database that holds what that release's base provides (the box's init system says which
release: BASES) and nothing else.

rpm has no resolver here (no yum, no repositories): every Requires must be met by the
database, never waved through with --nodeps. Debian's rpm refuses to install unless told
`--force-debian`, which changes nothing else.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from .base import InitSystem, Unsupported, quoted
from .yum import RpmDb

RPM = "rpm --force-debian"
# The distribution's RPMs the image installed (NAME.rpm) and each one's update, the same
# files under a higher release (upgrade/NAME.rpm): the box has no repository to get them from.
DISTRO_RPMS = "/var/cache/svh-distro-rpms"
# EL7's preset policy (its systemd ships 99-default-disable.preset: installing a package
# enables none of its units).
PRESET = "/usr/lib/systemd/system-preset/99-default-disable.preset"


@dataclass(frozen=True)
class Base:
    """A package standing for what an EL release's base system provides our RPMs, built and
    installed on the box before the first of them (rpm has no resolver to bring it)."""

    release: str
    provides: tuple[str, ...]
    description: str
    files: tuple[tuple[str, str], ...] = ()  # (path, its one line): the release's policy

    @property
    def name(self) -> str:
        return f"el{self.release}-base"

    def spec(self) -> str:
        install = "".join(
            f"mkdir -p %{{buildroot}}{path.rsplit('/', 1)[0]}\n"
            f"echo '{line}' > %{{buildroot}}{path}\n"
            for path, line in self.files
        )
        return f"""Name: {self.name}
Version: {self.release}
Release: 1
Summary: What an EL{self.release} base system provides, for packages installed with rpm on this box
License: none
BuildArch: noarch
{"".join(f"Provides: {p}{chr(10)}" for p in self.provides)}
%description
{self.description}
%install
{install}%files
{"".join(f"{path}{chr(10)}" for path, _ in self.files)}"""

    def ensure(self) -> str:
        """Builds and installs the base package once per box (a second call finds it)."""
        top = f"/var/tmp/svh-{self.name}"
        return (
            f"{{ rpm -q {self.name} >/dev/null 2>&1 || {{ rm -rf {top} && mkdir -p {top} && "
            f"cat > {top}/base.spec <<'SPEC'\n{self.spec()}SPEC\n"
            f"rpmbuild -bb --quiet --define '_topdir {top}' {top}/base.spec >{top}/build.log 2>&1 "
            f"&& {RPM} -i {top}/RPMS/noarch/{self.name}-*.rpm; }} || "
            f"{{ cat {top}/build.log; exit 1; }}; }}"
        )


C_RUNTIME = ("/bin/sh", "glibc", "libstdc++", "logrotate")
# Each init system's release: what its base provides the scriptlets of our daemons' packages
# (systemd for EL7's; chkconfig and initscripts' service for EL6's SysV scripts).
BASES = {
    "systemd": Base(
        "7",
        (*C_RUNTIME, "systemd"),
        "Stands for EL7's glibc, libstdc++, logrotate, systemd and /bin/sh.",
        ((PRESET, "disable *"),),
    ),
    "sysv": Base(
        "6",
        (*C_RUNTIME, "/sbin/chkconfig", "/sbin/service"),
        "Stands for EL6's glibc, libstdc++, logrotate, chkconfig, initscripts and /bin/sh.",
    ),
}

# rpm never asks about configs: an edited one stays, the new one lands as .rpmnew.
# -U runs rpm's own order: new %pre, files, new %post, old %preun, old %postun, old files
# erased, new %posttrans.
# rpm has no purge: an erase leaves each edited config as .rpmsave.
ERASE = f"{RPM} -e {{names}}"
COMMANDS = {"remove": ERASE, "purge": ERASE}


class RpmOnly(RpmDb, manager="rpm", formats=("rpm",), commands=COMMANDS):
    image_packages = ("rpm",)

    @property
    def base(self) -> Base:
        """The release whose base the box's init system stands for."""
        if self.box.init not in BASES:
            raise Unsupported(
                f"{self.box.name}: no EL release's base here for init {self.box.init!r} "
                f"(one for {', '.join(BASES)})"
            )
        return BASES[self.box.init]

    def _upgrade(self, files: Sequence[str], *options: str) -> str:
        return f"{self.base.ensure()} && {RPM} -U --replacepkgs {quoted([*options, *files])}"

    # The orders of every package database, written here because each names the box's base.
    def install(self, files: Sequence[str]) -> str:
        return self._upgrade(files)

    def install_unattended(self, files: Sequence[str]) -> str:
        return self._upgrade(files)

    def downgrade(self, files: Sequence[str]) -> str:
        return self._upgrade(files, "--oldpackage")

    def self_upgrade(self, packages: Sequence[tuple[str, str]]) -> tuple[str, list[str]]:
        # Salt's pkg module follows the box's os-release (Debian: aptpkg), not its rpm
        # database: rpm through cmd.run_bg, apart from the minion (its init system's way, as
        # Salt's yumpkg runs yum in a scope of its own under systemd), so the minion's
        # restart by %posttrans neither kills the upgrade nor waits for it.
        command = self.install([file for _, file in packages])
        init = InitSystem.registry[self.box.init](self.box)
        return "cmd.run_bg", [init.apart(command)]

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
