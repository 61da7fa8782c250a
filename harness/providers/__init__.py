"""Providers by name. Adding one (docker, lxc, ...) is one module and one line here."""

from __future__ import annotations

from ..errors import HarnessError
from .base import Provider


def get_provider(name: str) -> Provider:
    if name == "nspawn":
        from .nspawn import NspawnProvider

        return NspawnProvider()
    if name == "vagrant":
        from .vagrant import VagrantProvider

        return VagrantProvider()
    raise HarnessError(f"unknown provider '{name}' (known: nspawn, vagrant)")


PROVIDERS = ("nspawn", "vagrant")
