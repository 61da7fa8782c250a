"""Wall time the checks of Salt users' failure classes add to a box's verification: per
class and per box, median over repeats of the checks' own time (setup, call and teardown
from the JUnit report), printed as a table.

    .venv/bin/python bench/bench_failure_classes.py [--boxes debian11,debian12,debian13]
        [--repeats 3]
    .venv/bin/python bench/bench_failure_classes.py --from-report reports/DIR [...]

--from-report reads the per-check seconds of `harness verify` runs instead (one figure per
report and box; the checks' fixtures are paid by whichever check runs first there).

Each run first pays for what the older checks set up anyway (the installed box, the master
and its minion, the older line, the upgrade and the downgrade), so what the table shows is
what the new checks add. Needs each box's packages of both lines in dist/.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

from rich.console import Console
from rich.table import Table

from harness.paths import REPO_ROOT
from signoff import report
from verification.suite_command import SuiteRun

LIFECYCLE = "suites/test_lifecycle.py::"
PERMISSIONS = "suites/test_permissions.py::"
INTEGRITY = "suites/test_payload_integrity.py::"
# What the older checks set up: paid before the measured checks, in an order that sets
# each module's fixtures up once.
WARM_UP = [
    "suites/test_install.py::test_every_package_is_installed_at_the_built_version",
    "suites/test_minion.py::test_key_is_accepted_and_test_ping_answers",
]
LIFECYCLE_WARM_UP = [
    LIFECYCLE + "test_older_line_installs_and_runs",
    LIFECYCLE + "test_upgrade_keeps_edits_keys_and_enabled_state",
    LIFECYCLE + "test_downgrade_back_to_the_older_line_works",
]
CLASSES = {
    "3 salt-pip extras": [
        "suites/test_salt_pip.py",
        LIFECYCLE + "test_upgrade_keeps_the_salt_pip_extras",
    ],
    "4 permissions and ownership": [
        PERMISSIONS + "test_nothing_of_ours_is_world_writable_setuid_or_setgid",
        PERMISSIONS + "test_every_file_of_ours_is_owned_by_root",
        PERMISSIONS + "test_master_keys_are_private_to_the_master",
        PERMISSIONS + "test_minion_keys_are_private_to_the_minion",
    ],
    "5 unprivileged user": [
        PERMISSIONS + "test_an_unprivileged_user_runs_salt_call_and_the_versions_report"
    ],
    "6 nothing written into /opt/salt": [
        INTEGRITY + "test_salt_writes_nothing_into_opt_salt_when_it_runs",
        INTEGRITY + "test_a_serving_minion_and_master_write_nothing_into_opt_salt",
    ],
    "8 versions report": [INTEGRITY + "test_versions_report_names_the_versions_of_the_manifest"],
    "1 service state across upgrade and downgrade": [
        LIFECYCLE + "test_upgrade_keeps_each_units_enabled_masked_and_stopped_state",
        LIFECYCLE + "test_downgrade_keeps_each_units_enabled_masked_and_stopped_state",
    ],
    "7 unattended upgrade over an edited conffile": [
        LIFECYCLE + "test_unattended_upgrade_over_an_edited_conffile_neither_asks_nor_hangs"
    ],
    "2 upgrade ordered by the master": [
        LIFECYCLE + "test_an_upgrade_ordered_by_the_master_finishes_and_the_minion_comes_back"
    ],
}


def node_ids() -> list[str]:
    lifecycle = [n for nodes in CLASSES.values() for n in nodes if n.startswith(LIFECYCLE)]
    others = [n for nodes in CLASSES.values() for n in nodes if not n.startswith(LIFECYCLE)]
    return WARM_UP + others + LIFECYCLE_WARM_UP + lifecycle


def class_seconds(box: str) -> dict[str, float]:
    """One run on `box`: seconds per class (and failures, which make the figure void)."""
    with tempfile.TemporaryDirectory() as tmp:
        junit = Path(tmp) / "junit.xml"
        argv = SuiteRun([box], targets=node_ids(), junit=junit).argv()
        env = {**os.environ, "SVH_INSTANCE_SUFFIX": f"bench-{os.getpid()}"}
        subprocess.run(argv, cwd=REPO_ROOT, capture_output=True, env=env)
        checks = report.read_junit(junit, [box]) if junit.exists() else []
    return seconds_by_class(box, checks)


def seconds_by_class(box: str, checks: list) -> dict[str, float]:
    failed = [c.name for c in checks if c.outcome in ("failed", "error")]
    if failed or not checks:
        sys.exit(f"{box}: the checks did not all pass ({', '.join(failed) or 'no report'})")
    seconds = {}
    for label, nodes in CLASSES.items():
        names = {n.rpartition("::")[2] for n in nodes if "::" in n}
        modules = {n.removeprefix("suites/").removesuffix(".py") for n in nodes if "::" not in n}
        seconds[label] = sum(
            c.seconds
            for c in checks
            if c.name.split("[")[0] in names or c.suite.removeprefix("suites.") in modules
        )
    return seconds


def from_reports(directories: list[Path]) -> dict[str, list[dict[str, float]]]:
    runs: dict[str, list[dict[str, float]]] = {}
    for directory in directories:
        summary = json.loads((directory / "summary.json").read_text())
        for box in summary["boxes"]:
            checks = [report.Check(**c) for c in box["checks"]]
            runs.setdefault(box["box"], []).append(seconds_by_class(box["box"], checks))
    return runs


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--boxes", default="debian11,debian12,debian13")
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--from-report", nargs="+", metavar="DIR", help="harness verify reports")
    args = ap.parse_args()
    if args.from_report:
        runs = from_reports([Path(d) for d in args.from_report])
        boxes = sorted(runs)
        repeats = min(len(r) for r in runs.values())
    else:
        boxes = args.boxes.split(",")
        runs = {box: [class_seconds(box) for _ in range(args.repeats)] for box in boxes}
        repeats = args.repeats
    table = Table(title=f"seconds the failure-class checks add, median of {repeats}")
    for column in ("class", *boxes):
        table.add_column(column)
    for label in sorted(CLASSES):
        medians = [statistics.median(run[label] for run in runs[box]) for box in boxes]
        table.add_row(label, *(f"{m:.1f}" for m in medians))
    totals = [statistics.median(sum(run.values()) for run in runs[box]) for box in boxes]
    table.add_row("all eight classes", *(f"{t:.1f}" for t in totals))
    Console().print(table)
    return 0


if __name__ == "__main__":
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
    sys.exit(main())
