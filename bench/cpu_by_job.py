"""Where a run's CPU goes, by the harness command that caused it: every process the kernel's
accounting recorded is charged to its nearest ancestor that was a `harness build`,
`harness image build` or `harness verify` (else to pytest, else to "other"). Accounting
records no arguments, so a sampler records the long-lived commands' while the run goes:

    touch /var/tmp/acct.run && accton /var/tmp/acct.run
    while :; do ps -eo pid=,ppid=,lstart=,args= | grep -E 'harness|signoff.cli|pytest'
        sleep 10; done > /var/tmp/samples.log &      # beside the run; stop both afterwards
    bash .ci/run; accton off
    .venv/bin/python bench/cpu_by_job.py /var/tmp/acct.run /var/tmp/samples.log [--top 40]

A process is its parent's child only while the parent lived (pids are reused over a long
run); boxes' processes count too, as each box is a child of the harness that started it.
"""

from __future__ import annotations

import argparse
import re
import subprocess
import sys
import time
from collections import defaultdict
from typing import NamedTuple

SAMPLE = re.compile(r"\s*(\d+)\s+\d+\s+\w+ (\w+ +\d+ [\d:]+ \d+)\s+(.*)")
JOB = re.compile(r"(?:harness|signoff\.cli) (image build \S+.*|build \S+.*|verify .*)")


class Process(NamedTuple):
    pid: int
    ppid: int
    command: str
    cpu_seconds: float
    started: float
    lived: float


def processes(acct_file: str) -> list[Process]:
    """dump-acct's records: comm|version|utime|stime|elapsed|uid|gid|mem|io|pid|ppid|...|btime
    (times in hundredths of a second)."""
    out = subprocess.run(["dump-acct", acct_file], capture_output=True, text=True, check=True)
    found = []
    for line in out.stdout.splitlines():
        f = [x.strip() for x in line.split("|")]
        if len(f) >= 15:
            started = time.mktime(time.strptime(f[14], "%a %b %d %H:%M:%S %Y"))
            cpu = (float(f[2]) + float(f[3])) / 100
            found.append(Process(int(f[9]), int(f[10]), f[0], cpu, started, float(f[4]) / 100))
    return found


def sampled_commands(samples: str) -> dict[int, list[tuple[float, str]]]:
    """pid -> [(its start time, its command line)] from the sampler's log."""
    seen: dict[int, dict[float, str]] = defaultdict(dict)
    with open(samples) as f:
        for line in f:
            m = SAMPLE.match(line)
            if m:
                started = time.mktime(time.strptime(m[2], "%b %d %H:%M:%S %Y"))
                seen[int(m[1])].setdefault(started, m[3])
    return {pid: sorted(starts.items()) for pid, starts in seen.items()}


class Tree:
    def __init__(self, records: list[Process], commands: dict[int, list[tuple[float, str]]]):
        self.by_pid: dict[int, list[Process]] = defaultdict(list)
        for p in records:
            self.by_pid[p.pid].append(p)
        self.commands = commands

    def parent(self, p: Process) -> Process | None:
        alive = [
            q
            for q in self.by_pid.get(p.ppid, [])
            if q.started <= p.started + 1 and q.started + q.lived >= p.started - 1
        ]
        return max(alive, key=lambda q: q.started) if alive else None

    def command_line(self, p: Process) -> str | None:
        starts = self.commands.get(p.pid, [])
        return next((line for started, line in starts if abs(started - p.started) <= 2), None)

    def job(self, p: Process) -> str:
        lines: list[str] = []
        current: Process | None = p
        depth = 0
        while current is not None and depth < 80:
            line = self.command_line(current)
            if line:
                lines.append(line)
            current, depth = self.parent(current), depth + 1
        for line in lines:
            m = JOB.search(line)
            if m:
                return m[1][:80]
        return "pytest (its own work)" if any("pytest" in line for line in lines) else "other"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("acct_file")
    parser.add_argument("samples")
    parser.add_argument("--top", type=int, default=40, help="the jobs that spent most")
    args = parser.parse_args()
    try:
        tree = Tree(processes(args.acct_file), sampled_commands(args.samples))
    except (OSError, subprocess.CalledProcessError) as e:
        print(f"cpu_by_job: cannot read {args.acct_file} or {args.samples}: {e}", file=sys.stderr)
        return 2
    spent: dict[str, float] = defaultdict(float)
    for records in tree.by_pid.values():
        for p in records:
            spent[tree.job(p)] += p.cpu_seconds / 60
    print("| job | CPU minutes |\n|---|---|")
    for job, minutes in sorted(spent.items(), key=lambda item: -item[1])[: args.top]:
        print(f"| {job} | {minutes:.1f} |")
    print(f"| all | {sum(spent.values()):.1f} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
