"""Where a package set puts Salt, read from its package files: the prefix that holds the
virtualenv or onedir and its Python, Salt's version and every bundled distribution, the
commands a user runs, the daemons' units, and which package brings each.

Our packages (/opt/salt), Salt's onedir (/opt/saltstack/salt), dh-virtualenv's
(/opt/venvs/NAME) and any other venv Salt differ only in these facts; the suites ask them
here instead of assuming one layout."""

from __future__ import annotations

import posixpath
import re
from collections.abc import Mapping
from dataclasses import dataclass, field

from builds.layout import (
    COMMON,
    DAEMONS,
    PREFIX,
    SALT_PIP,
    SUBPACKAGES,
    carries_salt_pip,
    logrotate_of,
)
from harness.errors import HarnessError
from harness.platform import isolation_flags
from harness.platform.base import WRAPPERS_DIR

from .package_files import Entry

# Salt itself: PREFIX/lib/pythonX.Y/site-packages/salt/, in a venv or an onedir alike.
SALT_MODULE = re.compile(
    r"(?P<prefix>/.+?)/lib/python(?P<minor>\d\.\d+)/site-packages/salt/__init__\.py"
)
DIST_INFO = re.compile(r"/site-packages/(?P<stem>[^/]+)\.(?:dist|egg)-info")
UNIT_FILE = re.compile(r"/(?:usr/)?lib/systemd/system/(?P<daemon>salt-[a-z]+)\.service")
INIT_SCRIPT = re.compile(r"/etc/(?:rc\.d/)?init\.d/(?P<daemon>salt-[a-z]+)")
COMMAND_DIRS = ("/usr/bin", "/usr/sbin")
# Salt's console scripts, salt-pip among them.
TOOLS = tuple(dict.fromkeys(t for p in SUBPACKAGES for t in p.tools))


class Missing(HarnessError):
    """A piece the package set does not have: one line, what is missing and how to give it."""


def normalized(distribution: str) -> str:
    return re.sub(r"[-_.]+", "-", distribution).lower()


@dataclass(frozen=True)
class PayloadLayout:
    prefix: str  # the directory holding the venv or onedir
    python_version: str  # X.Y of its Python
    salt_version: str
    interpreter: str  # PREFIX/bin/python3 (python2 for 2.7)
    bundled_interpreter: bool  # its own interpreter, not a link to the system's
    common: str  # the package that holds Salt
    # Else the system interpreter its links first name outside the prefix (/usr/bin/python3.11)
    system_interpreter: str | None = None
    bundled: Mapping[str, str] = field(default_factory=dict)  # normalized name: version
    commands: Mapping[str, str] = field(default_factory=dict)  # tool: the path a user runs
    wrappers: Mapping[str, str] = field(default_factory=dict)  # tool: its package, in /usr/bin
    # daemon: the package of its service (a systemd unit, or a SysV init script)
    services: Mapping[str, str] = field(default_factory=dict)
    configs: tuple[str, ...] = ()  # /etc/salt/NAME files the packages ship
    logrotate: tuple[str, ...] = ()  # /etc/logrotate.d/ files the packages ship

    @property
    def isolated(self) -> str:
        """The interpreter, run apart from the caller's environment and user site."""
        return f"{self.interpreter} {isolation_flags(self.python_version)}"

    @property
    def salt_pip(self) -> str | None:
        return self.commands.get(SALT_PIP)

    @property
    def extras_dir(self) -> str:
        """salt-pip's target, as in Salt's onedir: on the Python path after site-packages."""
        return f"{self.prefix}/extras-{self.python_version}"

    @property
    def daemons(self) -> tuple[str, ...]:
        """Salt's daemons whose unit or init script the packages install, in Salt's order."""
        return tuple(d for d in DAEMONS if d in self.services)

    def command(self, tool: str) -> str:
        """The path a user runs TOOL by; Missing when no package installs it."""
        if tool not in self.commands:
            raise Missing(
                f"the packages install no {tool} (not in {', '.join(COMMAND_DIRS)}, "
                f"{self.prefix} or {self.prefix}/bin)"
            )
        return self.commands[tool]

    def package_of(self, daemon: str) -> str:
        """The package that installs DAEMON's unit or init script; Missing when none does."""
        if daemon not in self.services:
            raise Missing(f"the packages install no {daemon} service (systemd unit or init script)")
        return self.services[daemon]


def read(
    payloads: Mapping[str, tuple[Entry, ...]], where: str, prefix: str | None = None
) -> PayloadLayout:
    """The layout of the packages whose entries are PAYLOADS (by package name); WHERE names
    them in errors. PREFIX, when given, says which Salt to take where several are found."""
    salts = _salt_modules(payloads, prefix)
    if not salts:
        raise Missing(
            f"no package in {where} holds Salt (PREFIX/lib/pythonX.Y/site-packages/salt/"
            f"__init__.py{f' under {prefix}' if prefix else ''}): give the packages that bundle it"
        )
    if len(salts) > 1:
        found = ", ".join(sorted(p for p, _, _ in salts))
        raise Missing(
            f"{where} holds Salt under several prefixes ({found}): give one with --prefix"
        )
    root, minor, common = salts[0]
    every = {e.path: e for entries in payloads.values() for e in entries}
    bundled = _distributions(payloads[common], f"{root}/lib/python{minor}/site-packages/")
    if "salt" not in bundled:
        raise Missing(f"{where}: Salt under {root} has no salt-*.dist-info: its version is unknown")
    interpreter = _interpreter(every, root, minor)
    return PayloadLayout(
        prefix=root,
        python_version=minor,
        salt_version=bundled["salt"],
        interpreter=interpreter,
        bundled_interpreter=_resolves_inside(every, interpreter, root),
        system_interpreter=_first_outside(every, interpreter, root),
        common=common,
        bundled=bundled,
        commands=_commands(every, root),
        wrappers=_owners(payloads, lambda e: _command_dir_tool(e.path)),
        services=_owners(
            payloads, lambda e: _match(UNIT_FILE, e.path) or _match(INIT_SCRIPT, e.path)
        ),
        configs=_files_in(every, "/etc/salt"),
        logrotate=_files_in(every, "/etc/logrotate.d"),
    )


def _salt_modules(payloads, prefix: str | None) -> list[tuple[str, str, str]]:
    found = []
    for package, entries in payloads.items():
        for e in entries:
            hit = SALT_MODULE.fullmatch(e.path)
            if hit and (prefix is None or hit["prefix"] == prefix.rstrip("/")):
                found.append((hit["prefix"], hit["minor"], package))
    return found


def _distributions(entries: tuple[Entry, ...], site: str) -> dict[str, str]:
    """{normalized name: version} of each NAME-VERSION.dist-info (or .egg-info) in SITE."""
    found = {}
    for e in entries:
        if not e.path.startswith(site) or "/" in e.path[len(site) :]:
            continue
        hit = DIST_INFO.search(e.path)
        if hit:
            name, _, version = re.sub(r"-py\d\.\d+$", "", hit["stem"]).partition("-")
            found[normalized(name)] = version
    return found


def _interpreter(every: Mapping[str, Entry], root: str, minor: str) -> str:
    for name in (f"python{minor.split('.')[0]}", f"python{minor}", "python"):
        if f"{root}/bin/{name}" in every:
            return f"{root}/bin/{name}"
    raise Missing(f"no Python in {root}/bin (python{minor.split('.')[0]}, python{minor}, python)")


def _links(every: Mapping[str, Entry], path: str) -> list[str]:
    """PATH and each path its links name in turn, up to one the payload holds as no link."""
    chain = [path]
    while len(chain) < 16 and (entry := every.get(chain[-1])) is not None and entry.kind == "link":
        chain.append(posixpath.normpath(posixpath.join(posixpath.dirname(chain[-1]), entry.target)))
    return chain


def _resolves_inside(every: Mapping[str, Entry], path: str, root: str) -> bool:
    """Is PATH, its links followed through the payload, a file under ROOT?"""
    final = _links(every, path)[-1]
    return final in every and every[final].kind != "link" and final.startswith(f"{root}/")


def _first_outside(every: Mapping[str, Entry], path: str, root: str) -> str | None:
    """The first path outside ROOT that PATH's links name (None: they stay inside)."""
    return next((p for p in _links(every, path)[1:] if not p.startswith(f"{root}/")), None)


def _commands(every: Mapping[str, Entry], root: str) -> dict[str, str]:
    """Each tool by the path a user runs: a command directory's entry first, then the
    prefix's own launcher (Salt's onedir), then the venv's console script."""
    found = {}
    for tool in TOOLS:
        for directory in (*COMMAND_DIRS, root, f"{root}/bin"):
            if f"{directory}/{tool}" in every:
                found[tool] = f"{directory}/{tool}"
                break
    return found


def _command_dir_tool(path: str) -> str | None:
    directory, _, name = path.rpartition("/")
    return name if directory in COMMAND_DIRS and name in TOOLS else None


def _files_in(every: Mapping[str, Entry], directory: str) -> tuple[str, ...]:
    return tuple(
        sorted(
            p for p, e in every.items() if e.kind == "file" and posixpath.dirname(p) == directory
        )
    )


def _match(pattern: re.Pattern, path: str) -> str | None:
    hit = pattern.fullmatch(path)
    return hit["daemon"] if hit else None


def _owners(payloads, key) -> dict[str, str]:
    return {k: package for package, entries in payloads.items() for e in entries if (k := key(e))}


def declared(manifest: Mapping) -> PayloadLayout:
    """The layout our build module promises (builds/layout.py) for a set it built: what our
    packages must have, whatever a broken build left out of them."""
    minor = ".".join(manifest["python_version"].split(".")[:2])
    prefix = manifest.get("prefix", PREFIX)
    # The common package comes first (builds/build.py); Salt's onedir layout names its DEB
    # salt-common.
    packages = manifest.get("packages") or [{"name": COMMON}]
    common = packages[0]["name"]
    wrappers = {
        tool: common if p.name == COMMON else p.name
        for p in SUBPACKAGES
        for tool in p.tools
        if tool != SALT_PIP or carries_salt_pip(minor)
    }
    return PayloadLayout(
        prefix=prefix,
        python_version=minor,
        salt_version=manifest["salt_version"],
        interpreter=f"{prefix}/bin/python{minor.split('.')[0]}",
        bundled_interpreter=bool(manifest.get("bundled_interpreter")),
        system_interpreter=manifest.get("system_python"),
        common=common,
        bundled=manifest.get("bundled", {}),
        commands={tool: f"{WRAPPERS_DIR}/{tool}" for tool in wrappers},
        wrappers=wrappers,
        services={u.removesuffix(".service"): p.name for p in SUBPACKAGES for u in p.units},
        configs=tuple(sorted(f"/etc/salt/{c}" for p in SUBPACKAGES for c in p.configs)),
        logrotate=(logrotate_of(common),),
    )
