"""Faulted verification runs and what they leave: a table per fault.

    .venv/bin/python bench/bench_faults.py [--faults sigint:6,sigkill:3,box-kill:2,sshd-kill:1]
                                           [-k "isolation or abi or minion"] [--seed N]

Each run is `harness verify --box debian12 -k EXPR` in a harness namespace of its own, with
one fault injected (tests/faults.py): SIGINT or SIGKILL to the run's process group at a
random moment (8-40 s; after SIGKILL, `harness down --all`), SIGKILL to the box's
systemd-nspawn, or every sshd of the box killed, at a random moment in the first 5 s of
the suites.
After each run: what is left (processes in the namespace's control groups, links, mounts,
instance records, scratch dirs), and whether the next run of the box (`-m smoke`) signs off.
"""

from __future__ import annotations

import argparse
import random
import statistics
import sys
import tempfile
from pathlib import Path

from rich.console import Console
from rich.table import Table

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))
from faults import INJECTORS, Namespace, clean_run, faulted_run


def parse_faults(spec: str) -> list[str]:
    runs = []
    for part in spec.split(","):
        fault, _, count = part.partition(":")
        if fault not in INJECTORS:
            sys.exit(f"unknown fault '{fault}' (known: {', '.join(INJECTORS)})")
        runs += [fault] * int(count or 1)
    return runs


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--faults", default="sigint:6,sigkill:3,box-kill:2,sshd-kill:1")
    parser.add_argument("-k", dest="keyword", default="isolation or abi or minion")
    parser.add_argument("--seed", type=int, default=None)
    args = parser.parse_args()
    rng = random.Random(args.seed)
    ns = Namespace.fresh(Path(tempfile.mkdtemp(prefix="svh-faults-")), 90, suffix="faultbench")
    console = Console()
    rows: dict[str, list] = {}
    for n, fault in enumerate(parse_faults(args.faults), 1):
        outcome = faulted_run(ns, fault, ["-k", args.keyword], rng)
        after = clean_run(ns)
        verdict = "PASS" if after.returncode == 0 else "FAIL"
        console.print(
            f"run {n}: {fault} at {outcome.injected_at:.0f}s ({outcome.note}); ended "
            f"{'HUNG' if outcome.exit_code is None else f'exit {outcome.exit_code}'} at "
            f"{outcome.seconds:.0f}s; left {outcome.left}; next run {verdict}",
            highlight=False,
        )
        rows.setdefault(fault, []).append((outcome, verdict))
    table = Table("fault", "runs", "end after fault, median s", "hung", "left", "next run PASS")
    for fault, results in rows.items():
        after_fault = [o.seconds - o.injected_at for o, _ in results]
        table.add_row(
            fault,
            str(len(results)),
            f"{statistics.median(after_fault):.1f}",
            str(sum(o.exit_code is None for o, _ in results)),
            str(sum(sum(o.left.values()) for o, _ in results)),
            f"{sum(v == 'PASS' for _, v in results)}/{len(results)}",
        )
    console.print(table)


if __name__ == "__main__":
    main()
