"""peer-compare's defects several at once (`./run peer-compare --jobs N`).

Their suite spends most of its time waiting on its daemons, package manager and timeouts:
one defect's run of it leaves the CPU idle while another defect builds or runs our suites.
Each defect runs in a process of its own, in a namespace of its own (state dir, bridge,
subnet, box names), and the parts that keep both cores busy (builds and our suites) take
turns under one lock, so they never run beside each other and our checks' time bounds mean
what they mean on a quiet machine.
"""

from __future__ import annotations

import ipaddress
import os
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass
from pathlib import Path

from harness import paths, runner, settings, state

LOGS = paths.REPO_ROOT / "reports" / "peer-compare"
# Job k's subnet: the harness's own, moved up this many subnets of its size (past the
# defaults of the Vagrant network and of other runs beside it).
SUBNET_OFFSET = 16


def turn(lock: Path | None) -> AbstractContextManager:
    """Held while a job builds or runs our suites; None: the only job, no turns."""
    return state.locked(lock) if lock else nullcontext()


def namespace(slot: int) -> dict[str, str]:
    """Job SLOT's settings: a state dir, a bridge, a subnet and box names of its own."""
    own = settings.current()
    network = ipaddress.ip_network(own.text("SVH_NETWORK", "10.242.17.0/24"))
    moved = network.network_address + (SUBNET_OFFSET + slot) * network.num_addresses
    bridge = own.text("SVH_BRIDGE", "svh-br0")[:11]
    return {
        "SVH_STATE_DIR": f"{paths.state_dir()}-job{slot}",
        "SVH_BRIDGE": f"{bridge}-j{slot}",
        "SVH_NETWORK": f"{moved}/{network.prefixlen}",
        "SVH_INSTANCE_SUFFIX": f"{own.text('SVH_INSTANCE_SUFFIX', '')}j{slot}",
    }


@dataclass
class Job:
    defect: str
    slot: int
    log: Path
    process: subprocess.Popen

    def outcome(self) -> str:
        """The job's last line (what it recorded), or why it has none."""
        lines = self.log.read_text(errors="replace").splitlines()
        ended = [line for line in lines if line.startswith(f"{self.defect}: ")]
        if self.process.returncode == 0 and ended:
            return ended[-1]
        last = lines[-1] if lines else "no output"
        return f"{self.defect}: no record (exit {self.process.returncode}: {last}); see {self.log}"


def start(defect: str, slot: int, lock: Path) -> Job:
    LOGS.mkdir(parents=True, exist_ok=True)
    log = LOGS / f"{defect}.log"
    argv = [sys.executable, "-m", "signoff.peer_compare", "--turns", str(lock), defect]
    with open(log, "w") as out:  # a Ctrl-C reaches the job only through stop()
        process = runner.spawn(
            argv, out, env={**os.environ, **namespace(slot)}, cwd=paths.REPO_ROOT
        )
    print(f"{defect}: started in job {slot}, log {log}", flush=True)
    return Job(defect, slot, log, process)


def stop(jobs: list[Job]) -> None:
    """Every job asked to end at once (each removes its boxes, as on Ctrl-C)."""
    with ThreadPoolExecutor(max_workers=len(jobs) or 1) as pool:
        list(pool.map(lambda job: runner.end(job.process), jobs))


def run(defects: list[str], jobs: int) -> int:
    """Every defect, up to JOBS at once; 0 when each has its record."""
    lock = paths.state_dir() / "peer-compare.turns"
    pending, failed = list(defects), 0
    running: list[Job] = []
    free = list(range(1, jobs + 1))
    try:
        while pending or running:
            while pending and free:
                running.append(start(pending.pop(0), free.pop(0), lock))
            time.sleep(2)
            for job in [j for j in running if j.process.poll() is not None]:
                running.remove(job)
                free.append(job.slot)
                failed += job.process.returncode != 0
                print(job.outcome(), flush=True)
    finally:
        stop(running)
    return 1 if failed else 0
