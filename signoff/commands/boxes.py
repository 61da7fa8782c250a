"""Box commands: the catalog, images, and a box's life (up, ssh, down, status, snapshot,
restore)."""

from __future__ import annotations

import os
import sys
import time

import click
from rich.table import Column, Table

from harness import catalog, session
from harness.errors import HarnessError
from harness.providers import PROVIDERS

from . import err, out, provider_option


@click.command()
def boxes():
    """The box catalog and whether each box can run here."""
    table = Table("box", "distro", "format", "init", "python", *PROVIDERS, box=None, pad_edge=False)
    reasons: list[str] = []  # footnotes: the same reason applies to many boxes
    for box in catalog.load_catalog().values():
        py = box.python.version or "none"
        if box.python.bundle_interpreter:
            portable = ", portable" if box.python.portable else ""
            py += f" (bundles {box.python.bundled_version}{portable})"
        can_run = session.availability(box)
        cells = []
        for name in PROVIDERS:
            reason = can_run.get(name)
            if name not in can_run:
                cells.append("-")
            elif reason is None:
                cells.append("[green]runs here[/green]")
            else:
                if reason not in reasons:
                    reasons.append(reason)
                cells.append(f"[yellow]no ({reasons.index(reason) + 1})[/yellow]")
        row = (box.name, f"{box.family} {box.release}", box.package_format, box.init, py)
        table.add_row(*row, *cells)
    out.print(table)
    for n, reason in enumerate(reasons, 1):
        out.print(f"({n}) {reason}", highlight=False)


@click.group()
def image():
    """Box images."""


@image.command("build")
@click.argument("box_name", metavar="BOX")
@provider_option
@click.option("--force", is_flag=True, help="Rebuild even when the cached image is current.")
@click.option("--mirror", help="Debian mirror URL (default: the one the host's apt uses).")
def image_build(box_name, provider, force, mirror):
    """Make BOX's image (cached by the box definition; an unchanged box is not rebuilt)."""
    started = time.monotonic()
    path, cached = session.image_build(box_name, provider, force, mirror)
    state_word = "cached" if cached else "built"
    seconds = time.monotonic() - started
    out.print(f"{box_name}: image {state_word} in {seconds:.1f}s at {path}")


@click.command()
@click.argument("box_names", nargs=-1, required=True, metavar="BOX...")
@provider_option
@click.option("--name", help="Instance name (one BOX only; default: the box name).")
def up(box_names, provider, name):
    """Start BOX... (in parallel) and print each endpoint."""
    if name and len(set(box_names)) > 1:
        raise HarnessError("--name names one instance: start one BOX with it")
    started = time.monotonic()
    if name:
        instances = [session.up(box_names[0], provider, name)]
    else:
        instances = session.up_many(list(box_names), provider)
    for inst in instances:
        out.print(
            f"{inst.name}: up at {inst.user}@{inst.address}:{inst.port} "
            f"({inst.provider}); enter with: harness ssh {inst.name}"
        )
    seconds = time.monotonic() - started
    err.print(f"[dim]{len(instances)} box(es) up in {seconds:.2f}s[/dim]")


@click.command(context_settings={"ignore_unknown_options": True})
@click.argument("name", metavar="BOX")
@click.argument("command", nargs=-1, type=click.UNPROCESSED)
def ssh(name, command):
    """A shell on BOX, or run COMMAND there (after --) and exit with its exit code."""
    machine = session.machine_for(session.find(name))
    if not command:
        argv = machine.endpoint.ssh_argv()
        os.execvp(argv[0], argv)
    machine.connect(timeout=10)
    code = machine.run_streaming(" ".join(command), sys.stdout.buffer, sys.stderr.buffer)
    machine.close()
    sys.exit(code)


@click.command()
@click.argument("names", nargs=-1, metavar="BOX...")
@click.option("--all", "all_", is_flag=True, help="Every box, and anything a crashed run left.")
def down(names, all_):
    """Stop BOX... and remove everything they used."""
    if all_:
        report_cleanup(session.down_all())
        return
    if not names:
        raise HarnessError("name the boxes to stop, or --all (see harness status)")
    for name in names:
        removed = session.down_named(name)
        out.print(f"{name}: down" + (f"; removed what it left: {len(removed)}" if removed else ""))
        for item in removed:
            out.print(f"  {item}", highlight=False)


def report_cleanup(cleanup: session.Cleanup) -> None:
    """What `down --all` removed, and the truth about what is left: checked afterwards."""
    out.print(f"boxes down: {', '.join(cleanup.boxes) or 'none'}")
    out.print(f"leftovers removed: {len(cleanup.removed)}")
    for item in cleanup.removed:
        out.print(f"  {item}", highlight=False)
    if cleanup.remaining:
        for item in cleanup.remaining:
            err.print(f"  {item}", highlight=False)
        raise HarnessError(
            f"{len(cleanup.remaining)} leftovers remain after removal (listed above); "
            "see harness status"
        )
    out.print("no leftovers remain")


@click.command()
def status():
    """Boxes that are up, and leftovers of crashed runs."""
    rows, leftovers = session.status()
    table = Table(
        "image", "provider", "address", "state", "snapshots", "up for", box=None, pad_edge=False
    )
    # Names are what users type next (harness ssh NAME): never cut them.
    width = max((len(r.instance.name) for r in rows), default=3)
    table.columns.insert(0, Column("box", no_wrap=True, min_width=width))
    for r in rows:
        i = r.instance
        running = "[green]running[/green]" if r.running else "[red]dead[/red] (harness down)"
        snapshots = ", ".join(i.snapshots) or "-"
        uptime = f"{time.time() - i.started_at:.0f}s"
        table.add_row(i.name, i.box_name, i.provider, i.address, running, snapshots, uptime)
    out.print(table if rows else "no boxes up")
    if leftovers:
        out.print(
            "[yellow]leftovers of boxes that are not up[/yellow] (remove with: harness down --all,"
            " or harness down BOX):"
        )
        for item in leftovers:
            out.print(f"  {item}", highlight=False)


@click.command()
@click.argument("name", metavar="BOX")
@click.argument("snapshot_name", metavar="NAME")
def snapshot(name, snapshot_name):
    """Save BOX's state as NAME."""
    seconds = session.snapshot(session.find(name), snapshot_name)
    out.print(f"{name}: snapshot {snapshot_name} saved in {seconds:.2f}s")


@click.command()
@click.argument("name", metavar="BOX")
@click.argument("snapshot_name", metavar="[NAME]", required=False)
def restore(name, snapshot_name):
    """Return BOX to snapshot NAME, or to its pristine image."""
    seconds = session.restore(session.find(name), snapshot_name)
    out.print(f"{name}: restored to {snapshot_name or 'pristine'} in {seconds:.2f}s")
