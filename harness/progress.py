"""Progress for long work (image builds, package builds, boots), shown on stderr.

Library code calls step()/note(); the CLI turns it into a rich status line. Under pytest
nothing is configured and the calls only go to the log.
"""

from __future__ import annotations

import logging
from contextlib import contextmanager

from rich.console import Console
from rich.markup import escape

log = logging.getLogger("harness")
_console: Console | None = None
_status = None
_base = ""


def enable(console: Console | None = None):
    global _console
    _console = console or Console(stderr=True)


@contextmanager
def step(message: str):
    """A long piece of work; its latest detail is shown next to it while it runs."""
    global _status, _base
    log.info(message)
    if _console is None or _status is not None:
        yield
        return
    with _console.status(message) as status:
        _status, _base = status, message
        try:
            yield
        finally:
            _status = None
    _console.print(f"[green]✓[/green] {message}")


def detail(message: str):
    log.debug(message)
    if _status is not None:
        _status.update(f"{_base}: [dim]{escape(message.strip()[:100])}[/dim]")


def note(message: str):
    log.info(message)
    if _console is not None:
        _console.print(message, highlight=False)
