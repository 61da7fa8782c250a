"""`harness build`."""

from __future__ import annotations

import click

from harness import catalog
from harness.errors import HarnessError

from . import out


@click.command()
@click.argument("box_name", metavar="BOX", required=False)
@click.option("--salt", "salt_version", metavar="VERSION", help="Salt version (default: 3008.4).")
@click.option(
    "--defect",
    metavar="NAME",
    help="A deliberately broken variant (or a sound one), into dist/BOX-defect-NAME/.",
)
@click.option(
    "--list-defects", is_flag=True, help="List the defect and sound variants, one line each."
)
@click.option("--keep-box", is_flag=True, help="Leave the build box up afterwards.")
@click.option(
    "--format",
    "package_format",
    type=click.Choice(["deb", "rpm"]),
    help="Package format (default: the box's own); another format goes to dist/BOX-FORMAT/.",
)
@click.option(
    "--layout",
    type=click.Choice(["venv", "onedir"]),
    help="Install layout (default: the box's, boxes/*.toml [build]): venv, ours in /opt/salt; "
    "onedir, Salt's own packages' /opt/saltstack/salt, into dist/BOX-onedir/.",
)
@click.option("--force", is_flag=True, help="Rebuild even when the output is current.")
def build(box_name, salt_version, defect, list_defects, keep_box, package_format, layout, force):
    """Build BOX's Salt packages in a fresh build box of BOX, into dist/BOX/."""
    from builds import defects
    from builds.build import build_packages

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
        salt_version,
        defect,
        keep_box=keep_box,
        package_format=package_format,
        force=force,
        layout=layout,
    )
    out.print(f"{box_name}: packages in {path}", highlight=False)
