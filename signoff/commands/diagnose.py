"""`harness diagnose BOX`."""

from __future__ import annotations

import click
from rich.table import Table

from harness import session

from . import out


@click.command()
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
