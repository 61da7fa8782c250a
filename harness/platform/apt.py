"""Debian's dpkg database, and apt for installs."""

from __future__ import annotations

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


COMMANDS = {
    "installed": "dpkg-query -W -f '${{Package}} ${{Version}} ${{Status}}\\n' {names} "
    "2>/dev/null | grep ' installed$' | cut -d' ' -f1,2 || true",
    "files": "dpkg-query -L {names}",
    "unfinished": "dpkg --audit || true",
    "verify": "dpkg --verify {names} || true",
    "conffiles": "dpkg-query -W -f '${{Conffiles}}\\n' {names} | awk 'NF {{print $1}}'",
    "owner": "dpkg -S {path} 2>/dev/null | cut -d: -f1 || true",
    "version_of": "dpkg-query -W -f '${{Version}}' {package} 2>/dev/null || true",
    "packaged_digest": "dpkg-query -W -f '${{Conffiles}}\\n' "
    "| awk -v p={config} '$1 == p {{print $2}}'",
    # apt's own check first, then each Depends of ours that is not installed.
    "unmet_requirements": "ours=$(echo {names} | tr ' ' '|') && apt-get check -q >&2 && "
    "dpkg-query -W -f '${{Depends}}\\n' {names} | tr ',|' '\\n\\n' "
    "| sed 's/^ *//; s/[ (:].*//' | grep . | sort -u | grep -vxE \"$ours\" "
    '| while read -r dep; do [ "$(dpkg-query -W -f \'${{Status}}\' "$dep" 2>/dev/null)" '
    "= 'install ok installed' ] || echo \"$dep\"; done",
    "unpack_here": 'for f in {files}; do dpkg-deb -x "$f" .; done',
    # The image's sources name the host's mirror, which a box never reaches.
    "offline_repositories": "mkdir -p /etc/apt/sources.offline && "
    "find /etc/apt/sources.list /etc/apt/sources.list.d -maxdepth 1 -type f "
    "-exec mv -t /etc/apt/sources.offline {} +",
    "install": f"{APT} install {{files}} </dev/null",
    "downgrade": f"{APT} --allow-downgrades install {{files}} </dev/null",
    "install_unattended": f"{APT_UNATTENDED} install {{files}} </dev/null",
    "remove": f"{APT} remove {{names}}",
    "purge": f"{APT} purge {{names}}",
}


class Dpkg(PackageDb, manager="apt", formats=("deb",), commands=COMMANDS):
    # Salt's package tests install both before they take the previous release from its
    # repository (tests/support/pkg.py install_previous): a box is offline, so they are here.
    image_packages = ("curl", "apt-transport-https")

    def salt_pkg_module(self) -> str:
        return "aptpkg"

    @property
    def native_versions(self) -> bool:
        return True

    def sorts_before(self, older: str, newer: str) -> str:
        return f"dpkg --compare-versions {quoted([older])} lt {quoted([newer])}"

    def new_config_set_aside(self, config: str) -> str:
        return f"{config}.dpkg-dist"  # --force-confold keeps the edit, the new one beside it

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
