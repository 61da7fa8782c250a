"""The `harness` command line."""

from __future__ import annotations

import os
import sys
import time

import click
from rich.console import Console
from rich.markup import escape
from rich.table import Column, Table

from harness import catalog, progress, session
from harness.errors import HarnessError
from harness.providers import PROVIDERS

out = Console()
err = Console(stderr=True)


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


provider_option = click.option(
    "--provider",
    type=click.Choice(list(PROVIDERS)),
    help="How to start the box (default: nspawn where it can run).",
)


@main.command()
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


@main.group()
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


@main.command()
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


@main.command(context_settings={"ignore_unknown_options": True})
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


@main.command()
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


@main.command()
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


@main.command()
@click.argument("name", metavar="BOX")
@click.argument("snapshot_name", metavar="NAME")
def snapshot(name, snapshot_name):
    """Save BOX's state as NAME."""
    seconds = session.snapshot(session.find(name), snapshot_name)
    out.print(f"{name}: snapshot {snapshot_name} saved in {seconds:.2f}s")


@main.command()
@click.argument("name", metavar="BOX")
@click.argument("snapshot_name", metavar="[NAME]", required=False)
def restore(name, snapshot_name):
    """Return BOX to snapshot NAME, or to its pristine image."""
    seconds = session.restore(session.find(name), snapshot_name)
    out.print(f"{name}: restored to {snapshot_name or 'pristine'} in {seconds:.2f}s")


@main.command()
@click.argument("name", metavar="BOX")
def diagnose(name):
    """Conflict map of a running BOX: which copy of each library each Python imports."""
    from verification.diagnose import conflict_map, opt_sys_path

    machine = session.machine_for(session.find(name)).connect(timeout=10)
    rows, has_opt = conflict_map(machine)
    table = Table(
        "module",
        "distro package",
        "catalog",
        "installed",
        "system python imports",
        "/opt/salt imports",
        "isolated",
        box=None,
        pad_edge=False,
    )
    for r in rows:
        table.add_row(
            r.module,
            r.package,
            r.catalog_version,
            r.distro_version,
            f"{r.system_version} {r.system_import}",
            f"{r.opt_version} {r.opt_import}",
            "-" if not has_opt else "[green]yes[/green]" if r.isolated else "[red]no[/red]",
        )
    out.print(table)
    if not has_opt:
        out.print(
            f"/opt/salt is not installed on {name}: install the packages to compare "
            f"(harness ssh {name} -- apt-get install -y /path/to/*.deb)"
        )
    else:
        out.print(
            "/opt/salt sys.path: " + " ".join(opt_sys_path(machine)),
            highlight=False,
            soft_wrap=True,
        )
    machine.close()


@main.command()
@click.option(
    "--box",
    "box_spec",
    multiple=True,
    help="Box(es): repeat, comma list, or 'all' (default debian12).",
)
@click.option("-n", "workers", type=int, default=1, help="Parallel pytest workers (one box each).")
@provider_option
@click.option("--packages", help="Directory of packages to verify (default: dist/BOX/).")
@click.option("--keep-boxes", is_flag=True, help="Leave the boxes up for a look afterwards.")
@click.option("-m", "marker", help="Only the checks with this pytest marker (e.g. smoke).")
@click.option("-k", "keyword", help="Only the checks matching this pytest -k expression.")
@click.option(
    "--shard",
    metavar="K/N",
    help="Only shard K of N of the boxes (every N-th from the K-th); join with report merge.",
)
def verify(box_spec, workers, provider, packages, keep_boxes, marker, keyword, shard):
    """Run the suites on fresh boxes and write the sign-off report (reports/DATE/)."""
    from .verify import verify as run_verification

    summary, report_dir = run_verification(
        list(box_spec),
        workers,
        provider,
        packages,
        keep_boxes,
        marker,
        keyword,
        shard=shard,
        console=out,
    )
    print_summary(summary, report_dir)
    sys.exit(0 if summary["verdict"] == "PASS" else 1)


def print_summary(summary: dict, report_dir) -> None:
    """Per-box table, each failure in one line with its reproducer, the report, the verdict."""
    table = Table("box", "verdict", "passed", "failed", "skipped", box=None, pad_edge=False)
    for b in summary["boxes"]:
        colour = "green" if b["verdict"] == "PASS" else "red"
        table.add_row(
            b["box"],
            f"[{colour}]{b['verdict']}[/{colour}]",
            str(b["passed"]),
            str(b["failed"]),
            str(b["skipped"]),
        )
    out.print(table)
    for b in summary["boxes"]:
        for c in b["checks"]:
            if c["outcome"] in ("failed", "error"):
                first = (c["message"].splitlines() or [""])[0]
                line = escape(f"{c['name']}: {first}")
                out.print(f"[red]FAIL[/red] {line}", highlight=False, soft_wrap=True)
                if c.get("reproducer"):
                    out.print(
                        f"     {c['reproducer']}", markup=False, highlight=False, soft_wrap=True
                    )
    out.print(f"report: {report_dir}/report.html (also report.md, summary.json)", soft_wrap=True)
    colour = "green" if summary["verdict"] == "PASS" else "red"
    out.print(f"verdict: [{colour}]{summary['verdict']}[/{colour}] in {summary['seconds']}s")


@main.group()
def report():
    """Sign-off reports."""


@report.command("merge")
@click.argument("directories", nargs=-1, required=True, type=click.Path(file_okay=False))
@click.option(
    "-o",
    "--output",
    type=click.Path(file_okay=False),
    help="Where the merged report goes (default: reports/merged-DATE/).",
)
def report_merge(directories, output):
    """Join the reports of shards (harness verify --shard K/N) into one sign-off."""
    from pathlib import Path

    from harness import paths

    from .merge import merge

    target = (
        Path(output)
        if output
        else paths.REPO_ROOT / "reports" / time.strftime("merged-%Y%m%d-%H%M%S")
    )
    summary = merge([Path(d) for d in directories], target)
    print_summary(summary, target)
    sys.exit(0 if summary["verdict"] == "PASS" else 1)


@main.command()
@click.argument("box_name", metavar="BOX", required=False)
@click.option("--salt", "salt_version", metavar="VERSION", help="Salt version (default: 3008.4).")
@click.option(
    "--defect", metavar="NAME", help="A deliberately broken variant, into dist/BOX-defect-NAME/."
)
@click.option("--list-defects", is_flag=True, help="List the defect variants, one line each.")
@click.option("--keep-box", is_flag=True, help="Leave the build box up afterwards.")
@click.option(
    "--format",
    "package_format",
    type=click.Choice(["deb", "rpm"]),
    help="Package format (default: the box's own); another format goes to dist/BOX-FORMAT/.",
)
@click.option("--force", is_flag=True, help="Rebuild even when the output is current.")
def build(box_name, salt_version, defect, list_defects, keep_box, package_format, force):
    """Build BOX's Salt packages in a fresh build box of BOX, into dist/BOX/."""
    from builds import defects
    from builds.build import build_packages
    from builds.locks import DEFAULT_SALT

    if list_defects:
        click.echo(defects.listing())
        return
    if not box_name:
        raise HarnessError("name the box to build for (see harness boxes)")
    box = catalog.load_box(box_name)
    if box.packages_of:
        raise HarnessError(
            f"{box_name} has no packages of its own, it verifies {box.packages_of}'s: "
            f"harness build {box.packages_of}"
        )
    path = build_packages(
        box_name,
        salt_version or DEFAULT_SALT,
        defect,
        keep_box=keep_box,
        package_format=package_format,
        force=force,
    )
    out.print(f"{box_name}: packages in {path}", highlight=False)


if __name__ == "__main__":
    main()
