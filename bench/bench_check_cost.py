"""What a group of checks costs: each box's seconds in the named checks, against its
whole suite run, read from the junit.xml of a sign-off report (`harness verify` or
`./run main all`), as a table. pytest's per-test time counts the call and its fixtures'
setup, so a check that is first to need a fixture carries that fixture's cost.

    .venv/bin/python bench/bench_check_cost.py REPORT_DIR [--checks NAME,NAME...] [--ids TEXT]

Default checks: those that came with Salt's own package tests (tests/pytests/pkg).
`--checks all --ids from-3006.29`: every check run from the LTS line (the lifecycle's
parameter id), i.e. what that upgrade path adds.
"""

from __future__ import annotations

import argparse
import json
from collections import defaultdict
from pathlib import Path

from rich.console import Console
from rich.table import Table

from signoff import report

PACKAGE_TEST_PARITY = [
    "test_every_program_answers_version_and_help",
    "test_every_salt_subpackage_imports",
    "test_salt_loads_and_dumps_yaml_with_libyaml",
    "test_nothing_of_ours_writes_to_stderr_on_its_way_out",
    "test_bundled_interpreter_has_a_complete_stdlib",
    "test_minion_stops_gracefully_and_leaves_no_process",
    "test_packages_provide_and_require_only_what_is_allowed",
    "test_the_logrotate_config_is_a_regular_file_of_roots",
    "test_salt_extensions_installed_with_salt_pip_are_reported_and_load",
]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("report_dir", type=Path)
    ap.add_argument("--checks", default=",".join(PACKAGE_TEST_PARITY), help="names, or all")
    ap.add_argument("--ids", default="", help="only checks whose parameter id holds this")
    args = ap.parse_args()
    wanted = set(args.checks.split(","))
    summary = json.loads((args.report_dir / "summary.json").read_text())
    boxes = [b["box"] for b in summary["boxes"]]
    total: dict[str, float] = defaultdict(float)
    named: dict[str, float] = defaultdict(float)
    ran: dict[str, int] = defaultdict(int)
    for check in report.read_junit(args.report_dir / "junit.xml", boxes):
        total[check.box] += check.seconds
        named_one = args.checks == "all" or check.name.split("[")[0] in wanted
        in_ids = args.ids in check.name.partition("[")[2]
        if named_one and in_ids and check.outcome != "skipped":
            named[check.box] += check.seconds
            ran[check.box] += 1
    table = Table(
        "box", "checks run", "their s", "whole suite s", "share", title=str(args.report_dir)
    )
    for box in boxes:
        share = named[box] / total[box] if total[box] else 0.0
        table.add_row(box, str(ran[box]), f"{named[box]:.1f}", f"{total[box]:.1f}", f"{share:.0%}")
    Console().print(table)


if __name__ == "__main__":
    main()
