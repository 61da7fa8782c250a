"""A second verifier in the same report: Salt's own package tests, run in a fresh box of
each box verified, against the same packages (verification.peer.salt_pkg_tests).

Their results are a section of the report of their own ("Salt's package tests"): each test's
outcome per box, the failures with their messages, their JUnit and log beside it.
"""

from __future__ import annotations

import time
import xml.etree.ElementTree as ET
from dataclasses import asdict
from pathlib import Path

from rich.console import Console

from harness import catalog, session, settings
from harness.errors import HarnessError
from verification.packages import PackageSet
from verification.peer import inputs as peer_inputs
from verification.peer import salt_pkg_tests as suite

from .report import Check, outcome_of

PACKAGE_PREFIX = "tests.pytests.pkg."
NOT_APPLICABLE = "not applicable"  # a failure that says nothing of our packages: why, shown


def details_of(case: ET.Element) -> str:
    """A failed testcase's message and its whole text (traceback, captured output)."""
    node = next((n for n in (case.find("failure"), case.find("error")) if n is not None), None)
    return "" if node is None else f"{node.get('message', '')}\n{node.text or ''}"


def read_junit(junit: Path, box: str) -> list[Check]:
    """Their JUnit as checks: each named by its node id under tests/pytests/pkg/."""
    checks = []
    for case in ET.parse(junit).getroot().iter("testcase"):
        outcome, message = outcome_of(case)
        module = case.get("classname", "").removeprefix(PACKAGE_PREFIX)
        path = module.replace(".", "/") + ".py"
        node_id = f"{path}::{case.get('name', '')}"
        apart = suite.not_applicable(node_id, details_of(case))
        if outcome in ("failed", "error") and apart:
            outcome, message = NOT_APPLICABLE, f"{apart.reason}\n\n{message}"
        checks.append(
            Check(
                path,
                node_id,
                box,
                outcome,
                float(case.get("time", 0)),
                message,
            )
        )
    return checks


def box_name(box: str) -> str:
    """The peer's own instance: never one of the suites' (SVH_INSTANCE_SUFFIX keeps two runs
    apart)."""
    return f"{box}-spt{settings.current().text('SVH_INSTANCE_SUFFIX', '')}"


def run_box(box: str, packages: PackageSet, out: Path, provider: str | None, keep: bool) -> dict:
    """Every chunk of the suite that runs here, in one fresh box; the box's section."""
    started = time.time()
    spec = catalog.load_box(box)
    out.mkdir(parents=True, exist_ok=True)
    inputs = peer_inputs.fetch(
        packages.salt_version, packages.python_minor, spec.glibc, out / "fetch.log"
    )
    checks: list[Check] = []
    with session.box_instance(box, provider, box_name(box), keep=keep) as machine:
        suite.stage(machine, inputs, packages)
        for chunk in suite.CHUNKS:
            with open(out / f"{chunk}.out", "wb") as log:
                machine.run_streaming(suite.chunk_command(chunk, packages), log, log, timeout=3600)
            machine.fetch(suite.junit_of(chunk), out / f"{chunk}.xml")
            machine.fetch(suite.log_of(chunk), out / f"{chunk}.log")
            checks += read_junit(out / f"{chunk}.xml", box)
    failed = sum(c.outcome in ("failed", "error") for c in checks)
    return {
        "box": box,
        "verdict": "PASS" if checks and not failed else "FAIL",
        "passed": sum(c.outcome == "passed" for c in checks),
        "failed": failed,
        "skipped": sum(c.outcome == "skipped" for c in checks),
        "not_applicable": sum(c.outcome == NOT_APPLICABLE for c in checks),
        "seconds": round(time.time() - started, 1),
        "chunks": {chunk: suite.chunk_command(chunk, packages) for chunk in suite.CHUNKS},
        "checks": [asdict(c) for c in checks],
    }


def require_onedir(sets: dict[str, PackageSet]) -> None:
    """Their suite expects Salt where Salt's packages put it: refuse any other set before a
    box starts."""
    for box, packages in sets.items():
        if packages.layout.prefix != suite.ONEDIR:
            raise HarnessError(
                f"{suite.TITLE} need Salt's onedir layout ({suite.ONEDIR}); "
                f"{packages.directory} holds Salt in {packages.layout.prefix}: build it with "
                f"harness build {catalog.load_box(box).packages_box} --layout onedir"
            )


def run(
    sets: dict[str, PackageSet],
    report_dir: Path,
    provider: str | None = None,
    keep: bool = False,
    console: Console | None = None,
) -> dict:
    """Salt's package tests on each box, one after the other; the report's section."""
    console = console or Console(stderr=True)
    boxes = []
    for box, packages in sets.items():
        console.print(f"{suite.TITLE}: {box}", highlight=False)
        result = run_box(box, packages, report_dir / suite.NAME / box, provider, keep)
        console.print(
            f"{suite.TITLE}: {box} {result['verdict']}: {result['passed']} passed, "
            f"{result['failed']} failed, {result['skipped']} skipped in {result['seconds']} s",
            highlight=False,
        )
        boxes.append(result)
    return {
        "name": suite.NAME,
        "title": suite.TITLE,
        "boxes": boxes,
        "deselected": [asdict(d) for d in suite.DESELECTED],
        "not_applicable": [asdict(n) for n in suite.NOT_APPLICABLE],
        "not_run": suite.NOT_RUN,
    }
