"""Our suites and Salt's own package tests on the same defects: each defect variant built in
Salt's onedir layout, both suites run against it by one `harness verify --peer
salt-pkg-tests`, and what each of them failed recorded.

    ./run peer-compare [DEFECT ...]     # build and verify what is not recorded yet
    ./run peer-compare --table          # the table the README quotes, from the records

A record, records/peer-compare/DEFECT.json, holds the failing checks of each suite and the
digest of the packages it was taken on: a later run skips a defect whose packages are the
same, so the comparison can be filled in over several runs. The records are kept in the
repository: one takes 15 to 40 minutes, and the README's table is made from them.

Their chunks (install, upgrade, downgrade) stop at the first that fails: what a later one
would fail does not change which suite catches the defect, and the upgrade chunk alone
takes 20 minutes. A defect caught by neither runs every chunk.
"""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import asdict, dataclass, field
from pathlib import Path

from builds import build, defects
from builds.locks import OLDER_LINES
from harness import paths, session
from harness.errors import HarnessError

from . import peer_jobs, verify
from .report import FAILED

RECORDS = paths.REPO_ROOT / "records" / "peer-compare"
LAYOUT = "onedir"
PEER = "salt-pkg-tests"
# Where a defect is seen, when not on debian12 from the newest older line: a change of
# /opt/salt's Python minor happens between debian13's LTS line (3.11) and its own (3.13).
BOX, OLDER = "debian12", OLDER_LINES[0]
ELSEWHERE = {"extras-stranded": ("debian13", OLDER_LINES[-1])}


@dataclass
class Record:
    defect: str
    box: str
    packages: str  # the set under test, under dist/
    older_line: str  # the set upgraded from
    digest: str  # the inputs digest of the defective set: the record is current while it is
    ours: list[str] = field(default_factory=list)  # our failing checks
    theirs: list[str] = field(default_factory=list)  # their failing tests (not applicable: no)
    report: str = ""
    seconds: float = 0.0

    @property
    def caught_by(self) -> str:
        return {(1, 1): "both", (1, 0): "ours", (0, 1): "theirs", (0, 0): "neither"}[
            (int(bool(self.ours)), int(bool(self.theirs)))
        ]


def debian_defects() -> list[str]:
    """The variants of the Debian packages: every one applies to the onedir layout."""
    return [d for d in defects.EVERY if d not in defects.CENTOS7]


def record_path(defect: str) -> Path:
    return RECORDS / f"{defect}.json"


def read(defect: str) -> Record | None:
    path = record_path(defect)
    return Record(**json.loads(path.read_text())) if path.exists() else None


def _sets(defect: str, box: str, older: str) -> tuple[Path, Path]:
    """(the set under test, the set upgraded from from Salt OLDER), built when not current.
    A defect of the older line's scripts is in the set upgraded from (builds/defects.py
    OLDER_LINE); the others are in the set under test."""
    broken_older = defect in defects.OLDER_LINE
    under_test = build.build_packages(box, defect=None if broken_older else defect, layout=LAYOUT)
    upgraded_from = build.build_packages(
        box, older, defect=defect if broken_older else None, layout=LAYOUT
    )
    return under_test, upgraded_from


def _digest(box: str, older: str, defect: str) -> str:
    line = older if defect in defects.OLDER_LINE else None
    return build.current_digest(box, line, defect, layout=LAYOUT)


def failing(summary: dict) -> tuple[list[str], list[str]]:
    """(our failing checks, their failing tests) in a verify run's summary."""
    ours = [c["name"] for b in summary["boxes"] for c in b["checks"] if c["outcome"] in FAILED]
    peer = summary.get("peer") or {"boxes": []}
    theirs = [c["name"] for b in peer["boxes"] for c in b["checks"] if c["outcome"] in FAILED]
    return sorted(ours), sorted(theirs)


def compare(defect: str, turns: Path | None = None) -> Record:
    """Both suites on the defect's packages, recorded; a current record is returned as is.
    turns: the lock the builds and our suites take turns under (peer_jobs)."""
    box, older = ELSEWHERE.get(defect, (BOX, OLDER))
    digest = _digest(box, older, defect)
    known = read(defect)
    if known and known.digest == digest:
        print(f"{defect}: recorded for these packages ({known.caught_by})", flush=True)
        return known
    with peer_jobs.turn(turns):
        session.image_build(box)
        under_test, upgraded_from = _sets(defect, box, older)
    summary, report_dir = verify.verify(
        [box],
        packages=str(under_test),
        older_line=str(upgraded_from),
        peer=PEER,
        peer_until_caught=True,
        exclusive=peer_jobs.turn(turns),
    )
    ours, theirs = failing(summary)
    made = Record(
        defect,
        box,
        under_test.name,
        upgraded_from.name,
        digest,
        ours,
        theirs,
        str(report_dir.relative_to(paths.REPO_ROOT)),
        float(summary["seconds"]),
    )
    RECORDS.mkdir(parents=True, exist_ok=True)
    record_path(defect).write_text(json.dumps(asdict(made), indent=1) + "\n")
    print(f"{defect}: {made.caught_by} (ours {len(ours)}, theirs {len(theirs)})", flush=True)
    return made


def table(names: list[str]) -> str:
    """The README's table: one row per defect, "not run yet" where no record is."""
    rows = [
        "| defect | caught by | our failing checks | their failing tests |",
        "|---|---|---|---|",
    ]
    for name in names:
        got = read(name)
        if got is None:
            rows.append(f"| `{name}` | not run yet | | |")
            continue
        ours = ", ".join(f"`{c}`" for c in got.ours) or "none"
        theirs = ", ".join(f"`{t.rsplit('::', 1)[-1]}`" for t in got.theirs) or "none"
        rows.append(f"| `{name}` | {got.caught_by} | {ours} | {theirs} |")
    return "\n".join(rows)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="peer-compare", description=__doc__.split("\n\n")[0])
    parser.add_argument("defects", nargs="*", help="defects (default: every Debian one)")
    parser.add_argument("--table", action="store_true", help="print the table and stop")
    parser.add_argument(
        "--jobs", type=int, default=1, help="defects at once (builds and our suites take turns)"
    )
    parser.add_argument("--turns", type=Path, help=argparse.SUPPRESS)  # a job's lock
    args = parser.parse_args(argv)
    names = args.defects or debian_defects()
    unknown = sorted(set(names) - set(debian_defects()))
    if unknown:
        print(
            f"peer-compare: not a defect of the Debian packages: {', '.join(unknown)} "
            "(harness build --list-defects lists them)",
            file=sys.stderr,
        )
        return 2
    if args.jobs < 1:
        print(f"peer-compare: --jobs {args.jobs}: give 1 or more", file=sys.stderr)
        return 2
    if not args.table:
        code = run(names, args.jobs, args.turns)
        if code:
            return code
    print(table(names))
    return 0


def run(names: list[str], jobs: int, turns: Path | None) -> int:
    """Each defect compared: here one after the other, or in JOBS processes."""
    session.terminate_as_interrupt()
    try:
        if jobs > 1:
            return peer_jobs.run(names, jobs)
        for name in names:
            compare(name, turns)
    except HarnessError as e:
        print(f"peer-compare: {e}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("peer-compare: interrupted; every box it started was removed", file=sys.stderr)
        return 130
    return 0


if __name__ == "__main__":
    sys.exit(main())
