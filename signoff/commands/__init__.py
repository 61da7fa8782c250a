"""The `harness` commands, one module per group (as molecule's command/): what they share."""

from __future__ import annotations

import click
from rich.console import Console

from harness.providers import PROVIDERS

out = Console()
err = Console(stderr=True)

provider_option = click.option(
    "--provider",
    type=click.Choice(list(PROVIDERS)),
    help="How to start the box (default: nspawn where it can run).",
)
