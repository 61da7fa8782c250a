"""Where a run's CPU goes, by the commands that spent it: a table of CPU minutes per kind of
work (compiling, Python, packaging, boxes, the VM) from the kernel's process accounting, which
counts every process of the host and of its boxes when it exits.

    apt-get install acct && touch /var/tmp/acct.run && accton /var/tmp/acct.run
    bash .ci/run                      # or any command; then: accton off
    .venv/bin/python bench/cpu_by_command.py /var/tmp/acct.run [--top 15]

A CPU-bound run on two cores can end no sooner than its CPU minutes over two: this says
which work to cut (bench/RESULTS.md).
"""

from __future__ import annotations

import argparse
import re
import subprocess
import sys
from collections import defaultdict

# Process names (the kernel's comm: 15 characters at most) by the work they do.
KINDS = {
    "compiling": re.compile(
        r"^(cc1|cc1plus|zig|as|ld|ld\.\w+|collect2|cc|c\+\+|g\+\+|gcc|x86_64-linux-gn|make|cmake"
        r"|perl|configure|conftest|libtool)$"
    ),
    "Python (harness, pytest, pip, Salt)": re.compile(
        r"^(python.*|harness|pytest|pip.*|salt.*|/opt/salt.*)$"
    ),
    "packaging (dpkg, rpm, compression)": re.compile(
        r"^(dpkg.*|rpm.*|apt.*|xz|gzip|zstd|bzip2|tar|cpio|mmdebstrap|debootstrap|http)$"
    ),
    "boxes (systemd, SSH, nspawn)": re.compile(r"^(systemd.*|sshd|ssh|dropbear|journal.*)$"),
    "VM (qemu)": re.compile(r"^(qemu.*|vagrant|ruby|libvirtd|virtqemud)$"),
}
LINE = re.compile(r"^\s*(\d+)\s+([\d.]+)re\s+([\d.]+)cp\s+\S+\s+\S+\s+(.+?)\*?$")


def per_command(acct_file: str) -> dict[str, float]:
    """CPU minutes by command name (sa's default table, one line per command)."""
    out = subprocess.run(["sa", acct_file], capture_output=True, text=True, check=True).stdout
    minutes: dict[str, float] = defaultdict(float)
    for line in out.splitlines()[1:]:  # the first line is the total
        found = LINE.match(line)
        if found:
            minutes[found[4].strip()] += float(found[3])
    return minutes


def most(spent: dict[str, float]) -> list[tuple[str, float]]:
    return sorted(spent.items(), key=lambda item: -item[1])


def kind_of(command: str) -> str:
    return next((kind for kind, names in KINDS.items() if names.match(command)), "other")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("acct_file")
    parser.add_argument("--top", type=int, default=15, help="the commands that spent most")
    args = parser.parse_args()
    try:
        minutes = per_command(args.acct_file)
    except (OSError, subprocess.CalledProcessError) as e:
        print(f"cpu_by_command: cannot read {args.acct_file} with sa: {e}", file=sys.stderr)
        return 2
    total = sum(minutes.values())
    kinds: dict[str, float] = defaultdict(float)
    for command, spent in minutes.items():
        kinds[kind_of(command)] += spent
    print("| kind of work | CPU minutes | share |\n|---|---|---|")
    for kind, spent in most(kinds):
        print(f"| {kind} | {spent:.1f} | {spent / total:.0%} |")
    print(f"| all | {total:.1f} | |\n\n| command | CPU minutes |\n|---|---|")
    for command, spent in most(minutes)[: args.top]:
        print(f"| {command} | {spent:.1f} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
