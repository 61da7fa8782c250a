"""`harness verify` and `harness report merge`."""

from __future__ import annotations

import sys
import time

import click
from rich.markup import escape
from rich.table import Table

from ..report import FAILED
from . import out, provider_option


@click.command()
@click.option(
    "--box",
    "box_spec",
    multiple=True,
    help="Box(es): repeat, comma list, or 'all' (default debian12).",
)
@click.option("-n", "workers", type=int, default=1, help="Parallel pytest workers (one box each).")
@provider_option
@click.option(
    "--packages",
    help="Directory of packages to verify, ours or any that bundle Salt (default: dist/BOX/).",
)
@click.option(
    "--prefix", help="Where the packages hold Salt, when they hold several (default: read)."
)
@click.option(
    "--older-line",
    help="Directory of the older Salt line's packages, for the upgrade checks.",
)
@click.option("--keep-boxes", is_flag=True, help="Leave the boxes up for a look afterwards.")
@click.option("-m", "marker", help="Only the checks with this pytest marker (e.g. smoke).")
@click.option("-k", "keyword", help="Only the checks matching this pytest -k expression.")
@click.option(
    "--shard",
    metavar="K/N",
    help="Only shard K of N of the boxes (every N-th from the K-th); join with report merge.",
)
@click.option(
    "--peer",
    type=click.Choice(["salt-pkg-tests"]),
    help="Also run Salt's own package tests (onedir-layout sets) in a fresh box of each box.",
)
def verify(box_spec, workers, provider, packages, keep_boxes, **options):
    """Run the suites on fresh boxes and write the sign-off report (reports/DATE/)."""
    from ..verify import verify as run_verification

    summary, report_dir = run_verification(
        list(box_spec), workers, provider, packages, keep_boxes, console=out, **options
    )
    print_summary(summary, report_dir)
    sys.exit(0 if summary["verdict"] == "PASS" else 1)


def print_summary(summary: dict, report_dir) -> None:
    """Per-box table, each failure in one line with its reproducer, the report, the verdict;
    the same for the peer suite where it ran."""
    print_boxes("box", summary["boxes"], name_box=False)
    if summary.get("peer"):
        print_boxes(summary["peer"]["title"], summary["peer"]["boxes"], name_box=True)
    out.print(f"report: {report_dir}/report.html (also report.md, summary.json)", soft_wrap=True)
    colour = "green" if summary["verdict"] == "PASS" else "red"
    out.print(f"verdict: [{colour}]{summary['verdict']}[/{colour}] in {summary['seconds']}s")


def print_boxes(first_column: str, boxes: list[dict], name_box: bool) -> None:
    table = Table(first_column, "verdict", "passed", "failed", "skipped", box=None, pad_edge=False)
    for b in boxes:
        colour = "green" if b["verdict"] == "PASS" else "red"
        counts = (str(b["passed"]), str(b["failed"]), str(b["skipped"]))
        table.add_row(b["box"], f"[{colour}]{b['verdict']}[/{colour}]", *counts)
    out.print(table)
    for b in boxes:
        for c in b["checks"]:
            if c["outcome"] in FAILED:
                first = (c["message"].splitlines() or [""])[0]
                where = f"{b['box']}: " if name_box else ""
                line = escape(f"{where}{c['name']}: {first}")
                out.print(f"[red]FAIL[/red] {line}", highlight=False, soft_wrap=True)
                if c.get("reproducer"):
                    out.print(
                        f"     {c['reproducer']}", markup=False, highlight=False, soft_wrap=True
                    )


@click.group()
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

    from ..merge import merge

    target = (
        Path(output)
        if output
        else paths.REPO_ROOT / "reports" / time.strftime("merged-%Y%m%d-%H%M%S")
    )
    summary = merge([Path(d) for d in directories], target)
    print_summary(summary, target)
    sys.exit(0 if summary["verdict"] == "PASS" else 1)
