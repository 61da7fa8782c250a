"""Debian's dpkg database, and apt for installs."""

from __future__ import annotations

import shlex
from collections.abc import Sequence

from .base import PackageDb, quoted

# Keep local edits of conffiles and never stop at a prompt: the box has no terminal.
# Unsafe I/O (no fsync per file) halves the unpack of our payload; boxes are throwaway.
APT = (
    "DEBIAN_FRONTEND=noninteractive apt-get -y -q --no-install-recommends "
    "-o Dpkg::Options::=--force-confdef -o Dpkg::Options::=--force-confold "
    "-o Dpkg::Options::=--force-unsafe-io"
)
# What unattended upgrades have: no terminal, nobody to answer a conffile question.
APT_UNATTENDED = (
    "DEBIAN_FRONTEND=noninteractive apt-get -y -q --no-install-recommends "
    "-o Dpkg::Options::=--force-unsafe-io"
)
DEBS_DIR = "/var/cache/salt-venv-harness/debs"  # the image's copies of the distro's .debs


class Dpkg(PackageDb, manager="apt", formats=("deb",)):
    def salt_pkg_module(self) -> str:
        return "aptpkg"

    def installed(self, names: Sequence[str]) -> str:
        return (
            "dpkg-query -W -f '${Package} ${Version} ${Status}\\n' "
            f"{quoted(names)} 2>/dev/null | grep ' installed$' | cut -d' ' -f1,2 || true"
        )

    def files(self, names: Sequence[str]) -> str:
        return f"dpkg-query -L {quoted(names)}"

    def unfinished(self, names: Sequence[str]) -> str:
        return "dpkg --audit || true"

    def verify(self, names: Sequence[str]) -> str:
        return f"dpkg --verify {quoted(names)} || true"

    def conffiles(self, names: Sequence[str]) -> str:
        return f"dpkg-query -W -f '${{Conffiles}}\\n' {quoted(names)} | awk 'NF {{print $1}}'"

    def unmet_requirements(self, names: Sequence[str]) -> str:
        ours = "|".join(names)
        return (
            f"apt-get check -q >&2 && dpkg-query -W -f '${{Depends}}\\n' {quoted(names)} "
            "| tr ',|' '\\n\\n' | sed 's/^ *//; s/[ (:].*//' | grep . | sort -u "
            f"| grep -vxE '{ours}' | while read -r dep; do "
            "[ \"$(dpkg-query -W -f '${Status}' \"$dep\" 2>/dev/null)\" = 'install ok installed' ]"
            ' || echo "$dep"; done'
        )

    def owner(self, path: str) -> str:
        return f"dpkg -S {shlex.quote(path)} 2>/dev/null | cut -d: -f1 || true"

    def version_of(self, package: str) -> str:
        return f"dpkg-query -W -f '${{Version}}' {shlex.quote(package)} 2>/dev/null || true"

    def packaged_digest(self, config: str) -> str:
        path = shlex.quote(config)
        return f"dpkg-query -W -f '${{Conffiles}}\\n' | awk -v p={path} '$1 == p {{print $2}}'"

    def new_config_set_aside(self, config: str) -> str:
        return f"{config}.dpkg-dist"  # --force-confold keeps the edit, the new one beside it

    def install(
        self, files: Sequence[str], downgrade: bool = False, unattended: bool = False
    ) -> str:
        apt = APT_UNATTENDED if unattended else APT
        return (
            f"{apt} {'--allow-downgrades ' if downgrade else ''}install {quoted(files)} </dev/null"
        )

    def remove(self, names: Sequence[str], purge: bool = False) -> str:
        return f"{APT} {'purge' if purge else 'remove'} {quoted(names)}"

    def install_from_repositories(self, conflicts) -> str:
        packages = quoted([c.package for c in conflicts])
        return (
            "set -e; apt-get update -q; "
            f"DEBIAN_FRONTEND=noninteractive apt-get install -y -q {packages}"
        )

    def change_distro_package(self, package: str, change: str) -> str:
        # The box's image keeps the distribution's .debs (it has no network).
        deb = f"$(ls {DEBS_DIR}/{package}_*.deb | head -n 1)"
        apt = f"{APT} --allow-downgrades"
        commands = {
            # The same files under a higher version: a real dpkg upgrade of the distro package.
            "upgrade": (
                f"rm -rf /tmp/up && dpkg-deb -R {deb} /tmp/up && "
                "sed -i 's/^Version: .*/&+harness1/' /tmp/up/DEBIAN/control && "
                f"dpkg-deb -b /tmp/up /tmp/{package}-up.deb >/dev/null && "
                f"{apt} install /tmp/{package}-up.deb"
            ),
            "downgrade": f"{apt} install {deb}",
            "remove": f"{apt} remove {package}",
            "reinstall": f"{apt} install {deb}",
        }
        return commands[change]
