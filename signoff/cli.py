"""The `harness` command line."""

from __future__ import annotations

import sys

import click

from harness import progress, session
from harness.errors import HarnessError

from .commands import boxes, build, diagnose, err, verify


class HarnessGroup(click.Group):
    """Turns every HarnessError into one line and a non-zero exit, never a traceback."""

    def invoke(self, ctx):
        try:
            return super().invoke(ctx)
        except HarnessError as e:
            err.print(f"[red]error:[/red] {e}", highlight=False, soft_wrap=True)
            sys.exit(1)
        except KeyboardInterrupt:
            err.print(
                "[yellow]interrupted[/yellow]: everything started by this command was removed"
            )
            sys.exit(130)


@click.group(cls=HarnessGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.option("-v", "--verbose", is_flag=True, help="Log every step.")
def main(verbose):
    """Build virtualenv Salt packages and prove them on real boxes."""
    import logging

    logging.basicConfig(
        level=logging.DEBUG if verbose else logging.WARNING,
        format="%(asctime)s %(name)s %(message)s",
    )
    progress.enable(err)
    session.terminate_as_interrupt()


for command in (
    boxes.boxes,
    boxes.image,
    boxes.up,
    boxes.ssh,
    boxes.down,
    boxes.status,
    boxes.snapshot,
    boxes.restore,
    diagnose.diagnose,
    verify.verify,
    verify.report,
    build.build,
):
    main.add_command(command)


if __name__ == "__main__":
    main()
