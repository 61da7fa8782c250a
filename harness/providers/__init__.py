"""Providers by name: the one registry the catalog, the session and the CLI read.

Adding one (docker, lxc, ...) is one module with a Provider subclass and one line here.
Modules are imported on first use: python-vagrant, for one, probes the host at import.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING

from ..errors import HarnessError

if TYPE_CHECKING:
    from .base import Provider

# name -> "module:class", in order of preference (the first that can run a box is its default)
PROVIDERS: dict[str, str] = {
    "nspawn": "harness.providers.nspawn:NspawnProvider",
    "vagrant": "harness.providers.vagrant:VagrantProvider",
}


def get_provider(name: str) -> Provider:
    if name not in PROVIDERS:
        raise HarnessError(f"unknown provider '{name}' (known: {', '.join(PROVIDERS)})")
    module, cls = PROVIDERS[name].split(":")
    provider: Provider = getattr(importlib.import_module(module), cls)()
    return provider
