"""Where a run's CPU goes, by the command line that spent it: every process the kernel's
accounting recorded, named by the argv of its last exec (from a bpftrace log of every
execve, host and boxes alike), or as a fork of its parent's command when it never exec'd
(Salt's workers, systemd's helpers). Finer than cpu_by_command.py (which sees only the
15-character comm) and cpu_by_job.py (which sees only the harness's own commands):

    apt-get install bpftrace acct && mount -t tracefs nodev /sys/kernel/tracing
    date +%s.%N > /var/tmp/exec.start
    bpftrace -e 'tracepoint:syscalls:sys_enter_execve { printf("%llu %d %d %s ",
        elapsed / 1000000, pid, curtask->real_parent->tgid, comm); join(args->argv); }' \\
        > /var/tmp/exec.log &                 # beside the run, with accounting on:
    touch /var/tmp/acct.run && accton /var/tmp/acct.run; RUN; accton off; kill %1
    .venv/bin/python bench/cpu_by_exec.py /var/tmp/acct.run /var/tmp/exec.log \\
        /var/tmp/exec.start [--words 3] [--comm REGEX] [--top 40]

Process ids are reused on a long run: an exec counts for the accounted process of its pid
whose lifetime holds it (a second either side, as accounting keeps whole seconds).
"""

from __future__ import annotations

import argparse
import re
import subprocess
import sys
from collections import Counter, defaultdict

from cpu_by_job import Process, Tree, processes

Execs = dict[int, list[tuple[float, str]]]
SCRATCH = re.compile(r"/(?:var/)?tmp/\S+")  # run-specific paths: one name for all of them


def exec_log(path: str, started: float) -> Execs:
    """pid -> [(when, argv)] from the bpftrace log: 'MS PID PPID COMM ARGV...'."""
    found: Execs = defaultdict(list)
    with open(path, errors="replace") as f:
        for line in f:
            fields = line.rstrip("\n").split(" ", 4)
            if len(fields) == 5 and fields[0].isdigit() and fields[1].isdigit():
                found[int(fields[1])].append((started + int(fields[0]) / 1000, fields[4]))
    return found


class Attribution(Tree):
    """cpu_by_job's process tree, each process named by its exec'd command line."""

    def __init__(self, records: list[Process], execs: Execs, words: int):
        super().__init__(records, {})
        self.execs, self.words = execs, words

    def argv(self, p: Process) -> str | None:
        during = [
            a for t, a in self.execs.get(p.pid, []) if p.started - 1 <= t <= p.started + p.lived + 1
        ]
        return during[-1] if during else None

    def label(self, p: Process) -> str:
        own = self.argv(p)
        if own:
            return self.short(own)
        current, depth = self.parent(p), 0
        while current is not None and depth < 8:
            found = self.argv(current)
            if found:
                return f"fork of {self.short(found)}"
            current, depth = self.parent(current), depth + 1
        return f"fork of ({p.command})"

    def short(self, argv: str) -> str:
        return " ".join(SCRATCH.sub("PATH", argv).split()[: self.words])[:150]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("acct_file")
    parser.add_argument("exec_log")
    parser.add_argument("started", help="a file holding the epoch seconds bpftrace started at")
    parser.add_argument("--words", type=int, default=3, help="of each argv, to group by")
    parser.add_argument("--comm", default="", help="only processes whose comm matches")
    parser.add_argument("--top", type=int, default=40)
    args = parser.parse_args()
    try:
        with open(args.started) as f:
            execs = exec_log(args.exec_log, float(f.read()))
        records = processes(args.acct_file)
    except (OSError, ValueError, subprocess.CalledProcessError) as e:
        print(f"cpu_by_exec: cannot read the inputs: {e}", file=sys.stderr)
        return 2
    first = min((t for seen in execs.values() for t, _ in seen), default=0.0)
    attribution = Attribution(records, execs, args.words)
    spent: Counter[str] = Counter()
    count: Counter[str] = Counter()
    for p in records:
        if p.started >= first - 1 and re.search(args.comm, p.command):
            label = attribution.label(p)
            spent[label] += p.cpu_seconds / 60
            count[label] += 1
    print("| command | CPU minutes | processes |\n|---|---|---|")
    for label, minutes in spent.most_common(args.top):
        print(f"| `{label}` | {minutes:.2f} | {count[label]} |")
    print(f"| all | {sum(spent.values()):.1f} | {sum(count.values())} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
