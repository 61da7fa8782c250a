"""What every kind of box answers: its package database and its init system, as shell
commands for that box (testinfra's Package and Service split), and the layout of our
packages on it.

A kind that cannot answer a question (no package database, no init system) raises
Unsupported with the reason; the suites skip the check with it.
"""

from __future__ import annotations

import inspect
import json
import shlex
import string
import types
from abc import ABC, abstractmethod
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from types import MappingProxyType
from typing import TYPE_CHECKING, Any, ClassVar

if TYPE_CHECKING:
    from harness.catalog import Box, ConflictLibrary

PREFIX = "/opt/salt"  # where the venv, and a bundled interpreter, live
EMPTY: Mapping[str, str] = MappingProxyType({})
WRAPPERS_DIR = "/usr/bin"  # salt-call, salt-minion, ...: wrappers into PREFIX


class Unsupported(Exception):
    """This box cannot answer the question; str() says why."""


def quoted(names: Sequence[str]) -> str:
    return " ".join(shlex.quote(n) for n in names)


class Command:
    """One question or order of a box kind, written as a shell template of its argument:
    `start = Command("systemctl start {unit}")` gives the kind a method, and
    `.start("salt-minion")` is "systemctl start salt-minion". The argument is shell-quoted (a
    sequence of names: each one). `Command(unsupported="masking")` is a method that raises
    Unsupported instead: the kind cannot answer."""

    def __init__(self, template: str = "", unsupported: str = "", name: str = ""):
        assert bool(template) != bool(unsupported), "a template, or what is unsupported"
        self.name = name
        fields = {f for _, f, _, _ in string.Formatter().parse(template) if f}
        assert len(fields) <= 1, f"{template}: one argument at most"
        self.template, self.unsupported, self.field = (
            template,
            unsupported,
            fields.pop() if fields else "",
        )

    def __set_name__(self, owner: type, name: str) -> None:
        self.name = name

    def fill(self, argument: str | int | Sequence[str] | None) -> str:
        if not self.field:
            return self.template
        words = [str(argument)] if isinstance(argument, str | int) else argument or []
        return self.template.format(**{self.field: quoted(words)})

    def __get__(self, kind: Any, owner: type | None = None) -> Callable[..., str]:
        def command(kind, argument=None) -> str:
            if self.unsupported:
                raise kind._unsupported(self.unsupported)
            return self.fill(argument)

        command.__name__ = self.name  # as a method's: checks.answered_elsewhere asks others
        return types.MethodType(command, kind)


def isolation_flags(python_version: str) -> str:
    """The flags that keep the caller's PYTHON* variables and user site out of an
    interpreter: -I is Python 3's; 2.7 (EL5's /opt/salt) has -E -s."""
    return "-E -s" if python_version.startswith("2.") else "-I"


@dataclass(frozen=True)
class Layout:
    """Where our packages put things on a box."""

    prefix: str
    python_version: str  # X.Y of the interpreter /opt/salt runs: bundled, or the system's

    @property
    def interpreter(self) -> str:
        return f"{self.prefix}/bin/python{self.python_version.split('.')[0]}"

    @property
    def isolated(self) -> str:
        """The interpreter, run isolated from the caller's environment and user site."""
        return f"{self.interpreter} {isolation_flags(self.python_version)}"

    @property
    def wrappers_dir(self) -> str:
        return WRAPPERS_DIR

    @property
    def extras_dir(self) -> str:
        """salt-pip's target, as in Salt's onedir: on the Python path after site-packages."""
        return f"{self.prefix}/extras-{self.python_version}"

    @classmethod
    def of(cls, box: Box, prefix: str = PREFIX) -> Layout:
        python = box.python
        version = python.bundled_version if python.bundle_interpreter else python.version
        assert version is not None, f"{box.name}: no Python for {prefix}"
        return cls(prefix, ".".join(version.split(".")[:2]))


def literal(text: str) -> str:
    """`text` inside a Command's template as it is (its braces are not a placeholder)."""
    return text.replace("{", "{{").replace("}", "}}")


def install_commands(
    kind: type, base: type, commands: Mapping[str, str], unsupported: Mapping[str, str]
) -> None:
    """Makes each entry of the kind's `commands` (name: shell template of the one argument)
    and `unsupported` (name: what it cannot answer, the skip's reason) a Command of the kind;
    every Command the base declares must be said by the kind or a kind it derives from."""
    for name, template in commands.items():
        setattr(kind, name, Command(template, name=name))
    for name, what in unsupported.items():
        setattr(kind, name, Command(unsupported=what, name=name))
    declared = {name for name, type_ in base.__annotations__.items() if "Command" in type_}
    said = set(commands) | set(unsupported)
    assert said <= declared, f"{kind.__name__}: no such command {sorted(said - declared)}"
    missing = [name for name in declared if inspect.getattr_static(kind, name, None) is None]
    assert not missing, f"{kind.__name__} does not say {', '.join(missing)}"


class PackageDb(ABC):
    """A box's package database and manager. Subclasses register under the catalog's
    `package_manager` value they serve."""

    registry: ClassVar[dict[str, type[PackageDb]]] = {}
    manager: ClassVar[str]
    formats: ClassVar[tuple[str, ...]]  # package formats it installs

    def __init_subclass__(
        cls,
        manager: str,
        formats: tuple[str, ...],
        commands: Mapping[str, str] = EMPTY,
        unsupported: Mapping[str, str] = EMPTY,
        **kwargs,
    ):
        super().__init_subclass__(**kwargs)
        cls.manager, cls.formats = manager, formats
        install_commands(cls, PackageDb, commands, unsupported)
        PackageDb.registry[manager] = cls

    # The distribution's policy: do its packages' scripts start a daemon they install?
    # (Debian's do; EL's presets leave every unit disabled and stopped.)
    daemons_start_on_install: ClassVar[bool] = True
    # The distribution's packages a box's image needs for this database (Debian's rpm).
    image_packages: ClassVar[tuple[str, ...]] = ()

    def __init__(self, box: Box):
        self.box = box

    def _unsupported(self, what: str) -> Unsupported:
        return Unsupported(f"{self.box.name} has no package database ({self.why_none}): no {what}")

    def self_upgrade(self, packages: Sequence[tuple[str, str]]) -> tuple[str, list[str]]:
        """The Salt function and arguments a master sends a minion to upgrade its own
        packages to these (name, file on the box): Salt's own pkg module."""
        sources = json.dumps([{name: file} for name, file in packages])
        return "pkg.install", [f"sources={sources}"]

    def edited_config_after_removal(self, config: str, purge: bool) -> str | None:
        """Where an edited `config` is once the packages are removed (None: gone). dpkg
        keeps it in place on remove and deletes it on purge."""
        return None if purge else config

    why_none = ""

    # Each kind gives its commands as tables (class keywords, see install_commands).
    # The questions, of the packages' names (or one path or package); each prints:
    installed: ClassVar[Command]  # one line per installed package: NAME VERSION
    files: ClassVar[Command]  # every path the packages own, one a line
    unfinished: ClassVar[Command]  # packages an interrupted transaction left (empty: none)
    verify: ClassVar[Command]  # files that changed since install (empty: clean)
    conffiles: ClassVar[Command]  # the packages' configuration files, one a line
    owner: ClassVar[Command]  # the package owning a path (empty when none does)
    version_of: ClassVar[Command]  # the installed version of one package (empty: none)
    unmet_requirements: ClassVar[Command]  # each dependency nothing installed provides
    # The digest (hex: md5 or sha256) the database keeps of the package's own copy of a
    # config, whatever the admin has made of the file since.
    packaged_digest: ClassVar[Command] = Command(
        unsupported="packaged digest of a config", name="packaged_digest"
    )
    # Unpack these package files into the current directory, installing nothing (the
    # runner of Salt's own package tests is the onedir, taken from the packages).
    unpack_here: ClassVar[Command] = Command(
        unsupported="unpacking a package file", name="unpack_here"
    )
    # Leave the package manager only the repositories a box without network can reach
    # (none): what refreshes them then succeeds, as on a box with its mirror.
    offline_repositories: ClassVar[Command] = Command(
        unsupported="repositories set offline", name="offline_repositories"
    )
    # The orders, of package files or names:
    install: ClassVar[Command]  # install, or upgrade to, these files
    downgrade: ClassVar[Command]  # back to these (older) files
    # Install as an unattended upgrade does: nobody answers a conffile question.
    install_unattended: ClassVar[Command]
    remove: ClassVar[Command]  # remove the packages, leaving configs and state
    purge: ClassVar[Command]  # remove them with their configs and state

    @abstractmethod
    def install_from_repositories(self, conflicts: Sequence[ConflictLibrary]) -> str:
        """Install the distribution's own packages from its repositories (a public VM box)."""

    def new_config_set_aside(self, config: str) -> str:
        """Where an upgrade puts the package's new copy of `config` when the admin edited
        it and the package's copy changed (the edit stays in place)."""
        raise self._unsupported("config set aside on upgrade")

    def salt_pkg_module(self) -> str:
        """The Salt pkg module that reads this database (Salt picks it by os_family)."""
        raise self._unsupported("Salt pkg module")

    @property
    def knows_tilde(self) -> bool:
        """Does its version comparison sort "~" below everything (dpkg; rpm 4.10 and later)?"""
        return True

    @property
    def native_versions(self) -> bool:
        """May a package's version go without a release, as a Debian native package's does
        (3008.4)? rpm's always has one."""
        return False

    def sorts_before(self, older: str, newer: str) -> str:
        """Exits 0 when the database's own comparison sorts package version `older`
        (VERSION-RELEASE) below `newer`."""
        raise self._unsupported("version comparison")

    def change_distro_package(self, package: str, change: str) -> str:
        """A distribution package changed under our running minion: upgrade (the same
        files under a higher version), downgrade (back to the original), remove, reinstall."""
        raise Unsupported(
            f"{self.box.name}: no change of a distribution package with {self.manager} here"
        )


class InitSystem(ABC):
    """A box's init system, for our daemons. Subclasses register under the catalog's `init`
    value they serve."""

    registry: ClassVar[dict[str, type[InitSystem]]] = {}
    kind: ClassVar[str]
    # Does installing a daemon's package start it (the distribution's policy)?
    starts_on_install: ClassVar[bool] = True
    # Do our packages' service files run on helpers the init system's own packages bring
    # (SysV scripts source EL's functions, and are driven by service and chkconfig)? A box
    # root that has no such packages (the glibc boxes) then gets stand-ins for them.
    scripts_need_helpers: ClassVar[bool] = False
    # Does an admin's init script run the daemon itself (SysV), or hand the action to the
    # init system's unit (a Debian script under systemd)?
    script_runs_the_daemon: ClassVar[bool] = False
    # Does the init system's rc mark a started service with a lock (EL's /var/lock/subsys)?
    subsys_locks: ClassVar[bool] = False

    def __init_subclass__(
        cls,
        kind: str,
        commands: Mapping[str, str] = EMPTY,
        unsupported: Mapping[str, str] = EMPTY,
        **kwargs,
    ):
        super().__init_subclass__(**kwargs)
        cls.kind = kind
        install_commands(cls, InitSystem, commands, unsupported)
        InitSystem.registry[kind] = cls

    def __init__(self, box: Box):
        self.box = box

    def _unsupported(self, what: str) -> Unsupported:
        return Unsupported(f"{self.box.name} has no init system: no service {what}")

    # Each kind gives its commands as tables (class keywords, see install_commands).
    # What every init system is asked, each a Command of the unit's name:
    is_enabled: ClassVar[Command]  # exits 0 when the unit starts at boot
    is_active: ClassVar[Command]  # exits 0 when it runs
    main_pid: ClassVar[Command]  # prints the daemon's PID (0 when it does not run)
    start: ClassVar[Command]
    stop: ClassVar[Command]
    restart: ClassVar[Command]
    # Stops the unit as an admin does and prints 'EXIT RESULT': the stop's exit status and
    # the init system's verdict on it ('success' when it ended cleanly).
    stop_outcome: ClassVar[Command]
    # The daemon killed and started again: for the harness's own reconfiguration, where a
    # clean stop would cost seconds (the restart check uses restart).
    kill_start: ClassVar[Command]
    enable: ClassVar[Command]
    disable: ClassVar[Command]
    mask: ClassVar[Command]
    state: ClassVar[Command]  # prints 'UNIT ENABLED ACTIVE' ('salt-minion enabled active')
    status: ClassVar[Command]  # a few lines on the daemon, for a failure message
    settle: ClassVar[Command]  # waits until what a package queued (restarts) is done
    init_script: ClassVar[Command]  # the unit's SysV script, to run with an action itself
    # Makes the unit take seconds to stop, as a minion signed in to its master does; where
    # a package's restart may be queued (systemd), so that one still queued shows.
    slow_stop: ClassVar[Command]
    pending: ClassVar[Command]  # prints what the init system still has queued for our units

    # Every state an admin can leave a unit in: (enabled state, active state).
    admin_states: ClassVar[tuple[tuple[str, str], ...]] = (
        ("enabled", "active"),
        ("disabled", "inactive"),
        ("masked", "inactive"),
        ("enabled", "inactive"),
        ("disabled", "active"),
    )

    def set_state(self, unit: str, enabled: str, active: str) -> str:
        """Puts the unit in an admin's state: enabled, disabled or masked; active or inactive."""
        admin = {"enabled": self.enable, "disabled": self.disable, "masked": self.mask}[enabled]
        if active == "active":
            return f"{admin(unit)} && {self.start(unit)}"
        return f"{self.stop(unit)} && {admin(unit)}"

    def booted(self) -> str | None:
        """Waits until boot finished (None: nothing to wait for)."""
        return None

    def salt_service_module(self) -> str:
        """The Salt service module that drives this init system (Salt picks it by os_family
        and by what runs as PID 1)."""
        raise self._unsupported("Salt service module")

    def apart(self, command: str) -> str:
        """`command` run apart from the daemon whose job starts it (a minion upgrading its own
        packages), so that the daemon's stop, which ends what the daemon started, spares it:
        in a session of its own (a SysV script of ours ends its daemon's whole session)."""
        return f"setsid sh -c {shlex.quote(command)}"

    def journal(self, lines: int) -> str | None:
        """The system log's last lines (None: no journal on this kind)."""
        return None

    @abstractmethod
    def package_expectations(self, unit: str) -> tuple[list[tuple[str, str]], list[str]]:
        """What an RPM of a daemon does for this init: (needle, where) pairs its %post,
        %preun, %postun, %posttrans and file list must hold, and words none of them may."""
