"""A box's platform: its package database, its init system and the layout of our packages
on it, chosen once from the catalog (as testinfra picks DebianPackage or RpmPackage and
SystemdService or SysvService). Suites, installs, builds and providers ask it; nothing else
branches on a box's family, package format or init system.

Each kind is one module of this package that registers itself: a new package manager or
init system is one new module here, found by `kinds()`.
"""

from __future__ import annotations

import functools
import importlib
import pkgutil
from dataclasses import dataclass
from typing import TYPE_CHECKING

from .base import PREFIX, InitSystem, Layout, PackageDb, Unsupported, isolation_flags

if TYPE_CHECKING:
    from harness.catalog import Box

__all__ = [
    "PREFIX",
    "InitSystem",
    "Layout",
    "PackageDb",
    "Platform",
    "Unsupported",
    "isolation_flags",
    "of",
]


@functools.cache
def _load_kinds() -> None:
    for module in pkgutil.iter_modules(__path__):
        if module.name != "base":
            importlib.import_module(f"{__name__}.{module.name}")


def package_managers() -> dict[str, type[PackageDb]]:
    _load_kinds()
    return dict(PackageDb.registry)


def init_systems() -> dict[str, type[InitSystem]]:
    _load_kinds()
    return dict(InitSystem.registry)


@dataclass(frozen=True)
class Platform:
    packages: PackageDb
    services: InitSystem
    layout: Layout

    @property
    def starts_on_install(self) -> bool:
        """Does installing our packages leave salt-minion enabled and running?"""
        return self.packages.daemons_start_on_install and self.services.starts_on_install


def of(box: Box) -> Platform:
    """The platform of a catalog entry."""
    return Platform(
        package_managers()[box.package_manager](box),
        init_systems()[box.init](box),
        Layout.of(box),
    )
