"""How the payload splits into packages (the proof of concept's split), as plain data.

`salt` carries the virtualenv in /opt/salt and what every role needs; each role package
adds its /usr/bin wrappers, its systemd unit and its /etc/salt config, and requires `salt`
at exactly its own version. Shared by every package format.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from harness import platform

FILES_DIR = Path(__file__).resolve().parent / "files"
PREFIX = platform.PREFIX
COMMON = "salt"
PACKAGE_RELEASE = "1"
DESCRIPTION = (
    "Salt with every Python dependency in a virtualenv under /opt/salt, so the "
    "distribution's own Python libraries stay untouched."
)


@dataclass(frozen=True)
class SubPackage:
    name: str
    summary: str
    tools: tuple[str, ...] = ()  # /usr/bin wrappers exec'ing /opt/salt/bin/<tool>
    units: tuple[str, ...] = ()  # systemd units from files/systemd, enabled and started on install
    configs: tuple[str, ...] = ()  # /etc/salt/<name> from files/etc/salt: conffiles
    dirs: tuple[str, ...] = ()  # empty directories the package owns
    requires: tuple[str, ...] = ()  # our own packages, at exactly the same version
    purge: tuple[str, ...] = ()  # state made at run time, removed on purge


SALT_PIP = "salt-pip"


@dataclass(frozen=True)
class Shape:
    """Where the payload lives and what its pieces are called (`harness build --layout`).

    venv: ours, the proof of concept's: /opt/salt, /usr/bin wrappers that exec its
    bin/TOOL, every daemon as root. onedir: Salt's own packages' (pkg/debian, salt.spec):
    /opt/saltstack/salt with a launcher per tool at its top that /usr/bin links to, the
    common DEB named salt-common, and salt-master and salt-api run as the system user salt
    that the common package makes (`user: salt` in /etc/salt/master)."""

    name: str
    prefix: str
    common_deb: str  # the common package's name as a DEB (an RPM's is always COMMON)
    launchers: bool  # PREFIX/TOOL launchers that /usr/bin/TOOL links to, not wrappers
    master_user: str  # the user salt-master and salt-api run as
    # What salt/_pkg.txt says, which Salt's `package` grain and versions report read
    # (salt.utils.package.pkg_type): Salt's onedir says "onedir"; ours writes none.
    package_type: str | None = None
    # Versioned as Salt is, where the package format allows it: Salt's DEBs are native
    # packages (3008.4), ours Debian's first revision of it (3008.4-1); an RPM has a release.
    native_version: bool = False

    @property
    def carry_extras(self) -> str:
        """Run after every package change: salt-pip's extras of another Python minor moved
        into this one's (builds/files/carry_extras.py)."""
        return f"{self.prefix}/share/salt-pip/carry_extras.py"

    def tool_path(self, tool: str) -> str:
        """What /usr/bin/TOOL runs: the launcher at the onedir's top, or the venv's script."""
        return f"{self.prefix}/{tool}" if self.launchers else f"{self.prefix}/bin/{tool}"


VENV = Shape("venv", PREFIX, COMMON, launchers=False, master_user="root")
ONEDIR = Shape(
    "onedir",
    "/opt/saltstack/salt",
    "salt-common",
    launchers=True,
    master_user="salt",
    package_type="onedir",
    native_version=True,
)
SHAPES = {s.name: s for s in (VENV, ONEDIR)}


def shape(name: str | None) -> Shape:
    """The layout named NAME (None: ours)."""
    if name is None:
        return VENV
    if name not in SHAPES:
        raise ValueError(f"unknown layout {name!r}; known: {', '.join(SHAPES)}")
    return SHAPES[name]


def carries_salt_pip(minor: str) -> bool:
    """A payload on Python 2.7 (Salt 3000, EL5) has no salt-pip: Salt brought it with 3006,
    and our launcher and extras carrier are Python 3."""
    return not minor.startswith("2.")


def _master_daemon(name: str, summary: str) -> SubPackage:
    """A daemon that runs next to the master: one tool, one unit, nothing to configure."""
    return SubPackage(
        name, summary, tools=(name,), units=(f"{name}.service",), requires=(COMMON, "salt-master")
    )


SUBPACKAGES: tuple[SubPackage, ...] = (
    SubPackage(
        COMMON,
        "Salt in a virtualenv (/opt/salt): shared files and salt-call",
        tools=("salt-call", "spm", SALT_PIP),
        dirs=("/etc/salt", "/etc/salt/pki", "/var/log/salt", "/var/cache/salt", "/srv/salt"),
        purge=("/var/cache/salt", "/var/log/salt", "/run/salt", "/etc/salt/pki"),
    ),
    SubPackage(
        "salt-minion",
        "Salt minion daemon (virtualenv Salt)",
        tools=("salt-minion", "salt-proxy"),
        units=("salt-minion.service",),
        configs=("minion",),
        dirs=("/etc/salt/minion.d",),
        requires=(COMMON,),
        purge=("/etc/salt/pki/minion", "/etc/salt/minion_id", "/var/cache/salt/minion"),
    ),
    SubPackage(
        "salt-master",
        "Salt master daemon and its command line tools (virtualenv Salt)",
        tools=("salt", "salt-cp", "salt-key", "salt-master", "salt-run"),
        units=("salt-master.service",),
        configs=("master",),
        dirs=("/etc/salt/master.d",),
        requires=(COMMON,),
        purge=("/etc/salt/pki/master", "/var/cache/salt/master"),
    ),
    _master_daemon("salt-syndic", "Salt syndic daemon (virtualenv Salt)"),
    _master_daemon("salt-api", "Salt REST API daemon (virtualenv Salt)"),
    SubPackage(
        "salt-cloud",
        "Salt cloud provisioning tool (virtualenv Salt)",
        tools=("salt-cloud",),
        configs=("cloud",),
        dirs=(
            "/etc/salt/cloud.conf.d",
            "/etc/salt/cloud.profiles.d",
            "/etc/salt/cloud.providers.d",
        ),
        requires=(COMMON,),
    ),
    SubPackage(
        "salt-ssh",
        "Salt over SSH, without a minion (virtualenv Salt)",
        tools=("salt-ssh",),
        configs=("roster",),
        requires=(COMMON,),
    ),
)

# The daemons, by unit name without ".service", in the subpackages' order.
DAEMONS = tuple(u.removesuffix(".service") for p in SUBPACKAGES for u in p.units)


def logrotate_of(package: str) -> str:
    """The logrotate config of the common package as PACKAGE ships it: named after the
    package, as Debian's policy and Salt's packages have it (/etc/logrotate.d/salt-common in
    Salt's onedir DEB, /etc/logrotate.d/salt in its RPM and in ours)."""
    return f"/etc/logrotate.d/{package}"


LOGROTATE = logrotate_of(COMMON)  # staged in the common package under its role's name


CARRY_EXTRAS = VENV.carry_extras
# Directories only root (the daemons' user) may enter: the key store (salt#65264).
PRIVATE_DIRS = frozenset({"/etc/salt/pki"})


def private_access(shape: Shape) -> tuple[int, str]:
    """Mode and group of PRIVATE_DIRS: 0700 root where every daemon runs as root. Where
    salt-master runs as another user it must reach its own keys below /etc/salt/pki, which
    Salt makes that user's and private when it starts: that user's group may enter the
    directory above (0750), others still may not."""
    if shape.master_user == "root":
        return 0o700, "root"
    return 0o750, shape.master_user


def system_user(shape: Shape) -> list[str]:
    """Shell lines that make the layout's system user for salt-master and salt-api, as
    Salt's common package does before its files go in (nothing where they run as root)."""
    user = shape.master_user
    if user == "root":
        return []
    return [
        f"getent group {user} >/dev/null || groupadd --system {user}",
        f"getent passwd {user} >/dev/null || useradd --system --no-create-home --gid {user} "
        f"--home-dir {shape.prefix} --shell /usr/sbin/nologin --comment Salt {user}",
    ]


def private_group(shape: Shape) -> list[str]:
    """Shell lines, once the files are in, that give PRIVATE_DIRS their group where it is
    not root's (a DEB's files are root's; an RPM's %attr says it itself)."""
    _, group = private_access(shape)
    return [] if group == "root" else [f"chgrp {group} {d}" for d in sorted(PRIVATE_DIRS)]


def config_text(conf: str, shape: Shape) -> str:
    """/etc/salt/CONF as the layout ships it: Salt's onedir master names its user."""
    text = (FILES_DIR / "etc/salt" / conf).read_text()
    if conf == "master" and shape.master_user != "root":
        text += (
            f"\n# The user salt-master and salt-api run as (the package made it).\n"
            f"user: {shape.master_user}\n"
            "# salt-syndic uses the minion's key store and extension modules (Salt's\n"
            "# syndic_config): it runs as the minion does, or it would make them its own.\n"
            "syndic_user: root\n"
        )
    return text


def unit_dir(box) -> str:
    """Where the release's policy puts system units (catalog: Debian moved them to /usr/lib
    with trixie, 13; before, /lib. EL7 uses /usr/lib)."""
    return box.unit_dir


def subpackage(name: str) -> SubPackage:
    for p in SUBPACKAGES:
        if p.name == name:
            return p
    raise KeyError(name)


# A Salt release candidate as PEP 440 spells it: 3008.5rc1.
PRERELEASE = re.compile(r"(?P<final>\d+(?:\.\d+)*)(?P<pre>rc\d+)")


def package_version(salt_version: str, box, sorted_prerelease: bool = True) -> str:
    """VERSION-RELEASE of our packages of a Salt version on `box` (VERSION alone where the
    layout is versioned as Salt is and the format allows it: Shape.native_version). A
    release candidate sorts below its final (Salt's test_version.py): 3008.5rc1 is
    3008.5~rc1-1 where the package manager knows the tilde (dpkg; rpm 4.10 and later), else
    3008.5-0.rc1 (EL5's and EL6's rpm). Unsorted, it stays as PEP 440 spells it, which both
    sort above the final."""
    packages = platform.of(box).packages
    native = shape(box.build.layout).native_version and packages.native_versions
    release = "" if native else f"-{PACKAGE_RELEASE}"
    found = PRERELEASE.fullmatch(salt_version)
    if not found or not sorted_prerelease:
        return f"{salt_version}{release}"
    if packages.knows_tilde:
        return f"{found['final']}~{found['pre']}{release}"
    return f"{found['final']}-0.{found['pre']}"


def prerelease_order(salt_version: str, box, sorted_prerelease: bool = True) -> list[str]:
    """[a release candidate of this version, the final] as our packages name them: the pair
    the manifest records, and the suites have the box's own package manager order."""
    final = PRERELEASE.sub(r"\g<final>", salt_version)
    return [package_version(f"{final}rc1", box, sorted_prerelease), package_version(final, box)]


def conffiles(pkg: SubPackage) -> list[str]:
    """The package's configuration files, before any defect."""
    files = [f"/etc/salt/{c}" for c in pkg.configs]
    if pkg.name == COMMON:
        files.append(LOGROTATE)
    return files


def wrapper_text(tool: str, extra: str = "", shape: Shape = VENV) -> str:
    """The script a user runs TOOL by: a /usr/bin wrapper (venv), or the launcher at the
    onedir's top that /usr/bin/TOOL links to."""
    template = (FILES_DIR / "wrapper.sh.in").read_text()
    return (
        template.replace("@PREFIX@", shape.prefix).replace("@TOOL@", tool).replace("@EXTRA@", extra)
    )


def unit_text(unit: str, exec_dir: str = "/usr/bin") -> str:
    return (FILES_DIR / "systemd" / unit).read_text().replace("@EXEC_DIR@", exec_dir)
