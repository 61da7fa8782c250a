"""What every kind of box answers: its package database and its init system, as shell
commands for that box (testinfra's Package and Service split), and the layout of our
packages on it.

A kind that cannot answer a question (no package database, no init system) raises
Unsupported with the reason; the suites skip the check with it.
"""

from __future__ import annotations

import json
import shlex
from abc import ABC, abstractmethod
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, ClassVar

if TYPE_CHECKING:
    from harness.catalog import Box, ConflictLibrary

PREFIX = "/opt/salt"  # where the venv, and a bundled interpreter, live
WRAPPERS_DIR = "/usr/bin"  # salt-call, salt-minion, ...: wrappers into PREFIX


class Unsupported(Exception):
    """This box cannot answer the question; str() says why."""


def quoted(names: Sequence[str]) -> str:
    return " ".join(shlex.quote(n) for n in names)


@dataclass(frozen=True)
class Layout:
    """Where our packages put things on a box."""

    prefix: str
    python_version: str  # X.Y of the interpreter /opt/salt runs: bundled, or the system's

    @property
    def interpreter(self) -> str:
        return f"{self.prefix}/bin/python{self.python_version.split('.')[0]}"

    @property
    def wrappers_dir(self) -> str:
        return WRAPPERS_DIR

    @property
    def extras_dir(self) -> str:
        """salt-pip's target, as in Salt's onedir: on the Python path after site-packages."""
        return f"{self.prefix}/extras-{self.python_version}"

    @classmethod
    def of(cls, box: Box) -> Layout:
        python = box.python
        version = python.bundled_version if python.bundle_interpreter else python.version
        assert version is not None, f"{box.name}: no Python for /opt/salt"
        return cls(PREFIX, ".".join(version.split(".")[:2]))


class PackageDb(ABC):
    """A box's package database and manager. Subclasses register under the catalog's
    `package_manager` value they serve."""

    registry: ClassVar[dict[str, type[PackageDb]]] = {}
    manager: ClassVar[str]
    formats: ClassVar[tuple[str, ...]]  # package formats it installs

    def __init_subclass__(cls, manager: str, formats: tuple[str, ...], **kwargs):
        super().__init_subclass__(**kwargs)
        cls.manager, cls.formats = manager, formats
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

    @abstractmethod
    def installed(self, names: Sequence[str]) -> str:
        """One line per installed package: NAME VERSION."""

    @abstractmethod
    def files(self, names: Sequence[str]) -> str:
        """Every path the packages own, one a line."""

    @abstractmethod
    def unfinished(self, names: Sequence[str]) -> str:
        """Lines for packages an interrupted transaction left behind (empty: none)."""

    @abstractmethod
    def verify(self, names: Sequence[str]) -> str:
        """Lines for files that changed since install (empty: clean)."""

    @abstractmethod
    def conffiles(self, names: Sequence[str]) -> str:
        """The packages' configuration files, one a line."""

    @abstractmethod
    def unmet_requirements(self, names: Sequence[str]) -> str:
        """Prints each dependency of the packages that nothing installed provides."""

    @abstractmethod
    def owner(self, path: str) -> str:
        """The package owning path (empty when none does)."""

    @abstractmethod
    def version_of(self, package: str) -> str:
        """The installed version of one package (empty when not installed)."""

    @abstractmethod
    def install(
        self, files: Sequence[str], downgrade: bool = False, unattended: bool = False
    ) -> str:
        """Install or upgrade to these package files. `unattended` leaves conffile questions
        unanswered, as an unattended upgrade does."""

    @abstractmethod
    def remove(self, names: Sequence[str], purge: bool = False) -> str:
        """Remove (or purge: configs and state too) the packages."""

    @abstractmethod
    def install_from_repositories(self, conflicts: Sequence[ConflictLibrary]) -> str:
        """Install the distribution's own packages from its repositories (a public VM box)."""

    def packaged_digest(self, config: str) -> str:
        """Prints the digest (hex: md5 or sha256) the database keeps of the package's own
        copy of `config`, whatever the admin has made of the file since."""
        raise self._unsupported("packaged digest of a config")

    def new_config_set_aside(self, config: str) -> str:
        """Where an upgrade puts the package's new copy of `config` when the admin edited
        it and the package's copy changed (the edit stays in place)."""
        raise self._unsupported("config set aside on upgrade")

    def salt_pkg_module(self) -> str:
        """The Salt pkg module that reads this database (Salt picks it by os_family)."""
        raise self._unsupported("Salt pkg module")

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

    def __init_subclass__(cls, kind: str, **kwargs):
        super().__init_subclass__(**kwargs)
        cls.kind = kind
        InitSystem.registry[kind] = cls

    def __init__(self, box: Box):
        self.box = box

    def _unsupported(self, what: str) -> Unsupported:
        return Unsupported(f"{self.box.name} has no init system: no service {what}")

    @abstractmethod
    def is_enabled(self, unit: str) -> str: ...

    @abstractmethod
    def is_active(self, unit: str) -> str: ...

    @abstractmethod
    def main_pid(self, unit: str) -> str:
        """Prints the daemon's PID (0 when it does not run)."""

    @abstractmethod
    def start(self, unit: str) -> str: ...

    @abstractmethod
    def stop(self, unit: str) -> str: ...

    @abstractmethod
    def restart(self, unit: str) -> str: ...

    @abstractmethod
    def stop_outcome(self, unit: str) -> str:
        """Stops `unit` as an admin does and prints 'EXIT RESULT': the stop's exit status
        and the init system's verdict on it ('success' when it ended cleanly)."""

    @abstractmethod
    def kill_start(self, unit: str) -> str:
        """The daemon killed and started again: for the harness's own reconfiguration,
        where a clean stop would cost seconds (the restart check uses restart)."""

    @abstractmethod
    def enable(self, unit: str) -> str: ...

    @abstractmethod
    def disable(self, unit: str) -> str: ...

    @abstractmethod
    def mask(self, unit: str) -> str: ...

    @abstractmethod
    def state(self, unit: str) -> str:
        """Prints 'UNIT ENABLED ACTIVE' (e.g. 'salt-minion enabled active')."""

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

    @abstractmethod
    def settle(self) -> str:
        """Waits until what a package queued (restarts without waiting) is done."""

    @abstractmethod
    def status(self, unit: str) -> str:
        """A few lines on the daemon, for a failure message."""

    def booted(self) -> str | None:
        """Waits until boot finished (None: nothing to wait for)."""
        return None

    def journal(self, lines: int) -> str | None:
        """The system log's last lines (None: no journal on this kind)."""
        return None

    @abstractmethod
    def package_expectations(self, unit: str) -> tuple[list[tuple[str, str]], list[str]]:
        """What an RPM of a daemon does for this init: (needle, where) pairs its %post,
        %preun, %postun and file list must hold, and words none of them may."""
