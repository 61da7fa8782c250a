"""A second verifier in the same report: Salt's own package tests, run in a fresh box of
each box verified, against the same packages (verification.peer.salt_pkg_tests).

Their results are a section of the report of their own ("Salt's package tests"): each test's
outcome per box, the failures with their messages, their JUnit and log beside it.
"""

from __future__ import annotations

import time
import xml.etree.ElementTree as ET
from dataclasses import asdict, dataclass
from pathlib import Path

from rich.console import Console

from builds.locks import older_lines
from harness import catalog, paths, session, settings
from harness.errors import HarnessError
from verification.packages import PackageSet, holds_one_set, older_line_dir, our_layout
from verification.peer import artifactory
from verification.peer import inputs as peer_inputs
from verification.peer import salt_pkg_tests as suite

from .report import FAILED, Check, outcome_of

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
        if outcome in FAILED and apart:
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


# peer-compare asks only whether their suite catches a defect: once a chunk has, the rest
# would not change the answer, and each costs minutes.
CAUGHT_ALREADY = "not run: the {chunk} chunk already failed (their suite stops at the first catch)"


def run_box(
    box: str, runs: PeerRun, out: Path, provider: str | None, keep: bool, until_caught: bool
) -> dict:
    """Every chunk of the suite that runs here, each in a fresh box (until_caught: up to the
    first that fails); the box's section."""
    started = time.time()
    packages = runs.packages
    out.mkdir(parents=True, exist_ok=True)
    glibc = catalog.load_box(box).glibc
    older_minor = runs.older.python_minor if runs.older else None
    inputs = peer_inputs.fetch(
        packages.salt_version, packages.python_minor, glibc, out / "fetch.log", older_minor
    )
    tree = artifactory.build(runs.older, out / "stand-in") if runs.older else None
    checks: list[Check] = []
    not_run: dict[str, str] = {}
    caught_in = None
    for chunk in runs.chunks:
        if caught_in:
            not_run[chunk] = CAUGHT_ALREADY.format(chunk=caught_in)
            continue
        # One name for every chunk's box: with --keep-boxes only the last one stays up.
        last = chunk == runs.chunks[-1]
        with session.box_instance(box, provider, box_name(box), keep=keep and last) as machine:
            suite.stage(machine, inputs, packages)
            if tree is not None:
                artifactory.serve(machine, tree)
            command = suite.chunk_command(chunk, packages, runs.prev_version)
            with open(out / f"{chunk}.out", "wb") as log:
                machine.run_streaming(command, log, log, timeout=3600)
            machine.fetch(suite.junit_of(chunk), out / f"{chunk}.xml")
            machine.fetch(suite.log_of(chunk), out / f"{chunk}.log")
        checks += read_junit(out / f"{chunk}.xml", box)
        if until_caught and any(c.outcome in FAILED for c in checks):
            caught_in = chunk
    failed = sum(c.outcome in FAILED for c in checks)
    return {
        "box": box,
        "verdict": "PASS" if checks and not failed else "FAIL",
        "passed": sum(c.outcome == "passed" for c in checks),
        "failed": failed,
        "skipped": sum(c.outcome == "skipped" for c in checks),
        "not_applicable": sum(c.outcome == NOT_APPLICABLE for c in checks),
        "seconds": round(time.time() - started, 1),
        "chunks": {
            c: suite.chunk_command(c, packages, runs.prev_version)
            for c in runs.chunks
            if c not in not_run
        },
        "not_run": not_run,
        "checks": [asdict(c) for c in checks],
    }


@dataclass(frozen=True)
class PeerRun:
    """What one box runs of their suite: our set, and the older line that stands in for
    Salt's previous release (None: none is built, and upgrade and downgrade do not run)."""

    packages: PackageSet
    own: str  # the box the packages are built for
    older: PackageSet | None
    older_salt: str  # the line that stands in, or would

    @property
    def prev_version(self) -> str | None:
        return self.older.salt_version if self.older else None

    @property
    def chunks(self) -> list[str]:
        return list(suite.chunks(self.prev_version))

    @property
    def not_run(self) -> dict[str, str]:
        return suite.not_run(self.own, self.older_salt, self.prev_version)


def peer_run(box: str, packages: PackageSet, older_line: str | None) -> PeerRun:
    """Our set and its older line: --older-line's, else the box's newest older line in the
    same (onedir) layout, when built."""
    own = catalog.load_box(box).packages_box
    older_salt = older_lines(own)[0]
    directory = older_line_dir(older_line, packages.directory)
    directory = directory or paths.package_set_dir(
        own, older_salt, layout=our_layout(packages.directory)
    )
    if not holds_one_set(directory):
        return PeerRun(packages, own, None, older_salt)
    older = PackageSet.load(directory, box)
    return PeerRun(packages, own, older, older.salt_version)


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
    older_line: str | None = None,
    until_caught: bool = False,
) -> dict:
    """Salt's package tests on each box, one after the other; the report's section.
    until_caught: a box's chunks stop at the first that fails (peer-compare)."""
    console = console or Console(stderr=True)
    boxes = []
    not_run: dict[str, str] = {}
    for box, packages in sets.items():
        console.print(f"{suite.TITLE}: {box}", highlight=False)
        runs = peer_run(box, packages, older_line)
        result = run_box(box, runs, report_dir / suite.NAME / box, provider, keep, until_caught)
        not_run |= runs.not_run | result["not_run"]
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
        "not_run": not_run,
    }
