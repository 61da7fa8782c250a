"""Faults injected into a real `harness verify` run, and the count of what each run left.

Used by tests/test_faults.py (one run of each fault) and bench/bench_faults.py (the
acceptance series). Every run lives in a harness namespace of its own (state dir, bridge,
subnet), so nothing outside it is ever touched.
"""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from harness.providers.nspawn import cgroups

REPO = Path(__file__).resolve().parent.parent
BOX = "debian12"
CGROUP_ROOT = Path("/sys/fs/cgroup")
HANG = 900.0  # a run still going this long after its fault has hung
RUN_END = 60.0  # what a killed run started has ended this long after it
# A fault in the box comes this many seconds at most after its suites start: a short
# subset (the tests' -k isolation) is done within ~12 s of that.
IN_BOX_WINDOW = 5.0
NO_BOX = "no box up to fault"


@dataclass(frozen=True)
class Namespace:
    """A harness of its own: the env of its commands and where it keeps state."""

    state_dir: Path
    bridge: str
    network: str
    suffix: str = "faults"  # of its box names: machine and veth names are the host's

    @classmethod
    def fresh(cls, state_dir: Path, slot: int, suffix: str = "faults") -> Namespace:
        return cls(state_dir, f"svh-f{slot}", f"10.245.{slot}.0/24", suffix)

    @property
    def env(self) -> dict[str, str]:
        # Instance names are machine and veth names on the host, shared by every namespace:
        # a suffix of its own keeps them apart from the boxes of the test run around it.
        env = {k: v for k, v in os.environ.items() if k != "PYTEST_XDIST_WORKER"}
        return dict(
            env,
            SVH_INSTANCE_SUFFIX=self.suffix,
            SVH_STATE_DIR=str(self.state_dir),
            SVH_BRIDGE=self.bridge,
            SVH_NETWORK=self.network,
            NO_COLOR="1",
        )

    @property
    def name(self) -> str:  # as harness.paths.namespace() spells it
        return str(self.state_dir).strip("/").replace("/", "_")

    def argv(self, *args: str) -> list[str]:
        return [sys.executable, "-m", "signoff.cli", *args]

    def harness(
        self, *args: str, env: dict | None = None, timeout: float = 600
    ) -> subprocess.CompletedProcess:
        return subprocess.run(
            self.argv(*args),
            env={**self.env, **(env or {})},
            cwd=REPO,
            capture_output=True,
            text=True,
            timeout=timeout,
        )


# ---- what is left -----------------------------------------------------------------------
def _group_pids(ns: Namespace) -> set[int]:
    pids: set[int] = set()
    for hierarchy in ("systemd", "unified", ""):
        pids |= cgroups.pids_in(CGROUP_ROOT / hierarchy / "salt-venv-harness" / ns.name)
    return pids


def _links(ns: Namespace, veths: set[str]) -> set[str]:
    brif = Path("/sys/class/net", ns.bridge, "brif")
    found = {p.name for p in brif.iterdir()} if brif.is_dir() else set()
    found |= {v for v in veths if Path("/sys/class/net", v).exists()}
    return found | ({ns.bridge} if Path("/sys/class/net", ns.bridge).exists() else set())


def _mounts(ns: Namespace) -> list[str]:
    scratch = f"/dev/shm/salt-venv-harness/{ns.name}"
    points = [line.split()[4] for line in Path("/proc/self/mountinfo").read_text().splitlines()]
    return [m for m in points if m.startswith((f"{ns.state_dir}/", f"{scratch}/"))]


def run_pids(ns: Namespace) -> set[int]:
    """Host processes of the namespace's runs (the harness and what it started: the suites'
    pytest runs in a session of its own), by the state dir in their environment."""
    marker = f"\0SVH_STATE_DIR={ns.state_dir}\0".encode()
    pids = set()
    for proc in Path("/proc").iterdir():
        try:
            if proc.name.isdigit() and marker in b"\0" + (proc / "environ").read_bytes():
                pids.add(int(proc.name))
        except OSError:
            continue
    return pids - {os.getpid()}


def runs_ended(ns: Namespace, within: float) -> bool:
    deadline = time.monotonic() + within
    while run_pids(ns):
        if time.monotonic() > deadline:
            return False
        time.sleep(0.5)
    return True


def left(ns: Namespace, veths: set[str] = frozenset()) -> dict[str, int]:  # type: ignore[assignment]
    """Processes of its runs and in its control groups, links, mounts, instances, scratch
    dirs."""
    scratch = Path("/dev/shm/salt-venv-harness", ns.name)
    return {
        "runs": len(run_pids(ns)),
        "processes": len(_group_pids(ns)),
        "links": len(_links(ns, set(veths))),
        "mounts": len(_mounts(ns)),
        "instances": len(list((ns.state_dir / "instances").glob("*/instance.json"))),
        "scratch": len([d for d in scratch.iterdir() if d.is_dir()]) if scratch.is_dir() else 0,
    }


# ---- the run and its fault ----------------------------------------------------------------
@dataclass
class Run:
    """One `harness verify` in its own process group, its output read as it comes."""

    ns: Namespace
    args: list[str]
    lines: list[str] = field(default_factory=list)
    started: float = field(default_factory=time.monotonic)

    def __post_init__(self):
        self.proc = subprocess.Popen(
            self.ns.argv("verify", "--box", BOX, *self.args),
            env=self.ns.env,
            cwd=REPO,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            start_new_session=True,
        )
        self.in_suites = threading.Event()
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            self.lines.append(line.rstrip())
            if line.startswith(f"{BOX}: suites"):
                self.in_suites.set()
        self.in_suites.set()  # ended before: nothing to wait for

    def box(self) -> dict | None:
        """The record of the box under test (not its master), once it is up."""
        for record in sorted((self.ns.state_dir / "instances").glob("*/instance.json")):
            try:
                data = json.loads(record.read_text())
            except (OSError, ValueError):
                continue
            if data.get("pid") and "-master" not in data["name"]:
                return data
        return None

    def signal_group(self, sig: int) -> None:
        try:
            os.killpg(self.proc.pid, sig)
        except ProcessLookupError:
            pass

    def wait(self, timeout: float = HANG) -> tuple[int | None, float]:
        """(exit code, or None when it hung and was killed; seconds since started)."""
        try:
            code: int | None = self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.signal_group(signal.SIGKILL)
            self.proc.wait()
            code = None
        return code, time.monotonic() - self.started


def _box_pids(ns: Namespace, name: str) -> list[int]:
    pids: set[int] = set()
    for hierarchy in ("systemd", "unified"):
        pids |= cgroups.pids_in(CGROUP_ROOT / hierarchy / "salt-venv-harness" / ns.name / name)
    return sorted(pids)


def kill_sshd(ns: Namespace, name: str) -> int:
    """SIGKILL every sshd of the box (listener and sessions), from the host; how many."""
    killed = 0
    for pid in _box_pids(ns, name):
        try:
            if Path(f"/proc/{pid}/comm").read_text().strip() == "sshd":
                os.kill(pid, signal.SIGKILL)
                killed += 1
        except (OSError, ProcessLookupError):
            continue
    return killed


@dataclass
class Outcome:
    fault: str
    injected_at: float  # seconds into the run
    exit_code: int | None  # None: hung
    seconds: float  # from the start of the run to its end
    left: dict[str, int]
    output: list[str]
    note: str = ""

    @property
    def clean(self) -> bool:
        return not any(self.left.values())


def _inject_at_random(run: Run, rng: random.Random, sig: int) -> tuple[float, str]:
    time.sleep(rng.uniform(8, 40))
    run.signal_group(sig)
    return time.monotonic() - run.started, signal.Signals(sig).name


def _inject_in_box(run: Run, rng: random.Random, what: str) -> tuple[float, str]:
    run.in_suites.wait(HANG)
    time.sleep(rng.uniform(0, IN_BOX_WINDOW))
    box = run.box()
    if box is None:
        return time.monotonic() - run.started, NO_BOX
    at = time.monotonic() - run.started
    if what == "box":
        os.kill(box["pid"], signal.SIGKILL)
        return at, f"SIGKILL to nspawn {box['pid']} of {box['name']}"
    return at, f"{kill_sshd(run.ns, box['name'])} sshd processes of {box['name']} killed"


INJECTORS: dict[str, Callable[[Run, random.Random], tuple[float, str]]] = {
    "sigint": lambda run, rng: _inject_at_random(run, rng, signal.SIGINT),
    "sigkill": lambda run, rng: _inject_at_random(run, rng, signal.SIGKILL),
    "box-kill": lambda run, rng: _inject_in_box(run, rng, "box"),
    "sshd-kill": lambda run, rng: _inject_in_box(run, rng, "sshd"),
}


def faulted_run(ns: Namespace, fault: str, args: list[str], rng: random.Random) -> Outcome:
    """Run verify with `args`, inject `fault`, wait for the end (after a whole-run SIGKILL:
    `harness down --all`, the user's next step), and count what is left."""
    run = Run(ns, args)
    veths: set[str] = set()
    at, note = INJECTORS[fault](run, rng)
    box = run.box()
    if box and box.get("extra", {}).get("veth"):
        veths.add(box["extra"]["veth"])
    code, seconds = run.wait()
    if fault == "sigkill":
        # What it started ends with it (told by the kernel): its boxes go as it ends.
        if not runs_ended(ns, RUN_END):
            note += f"; its processes still ran {RUN_END:.0f}s after it was killed"
        down = ns.harness("down", "--all")
        note += f"; down --all exited {down.returncode}"
        run.lines += (down.stdout + down.stderr).splitlines()
    return Outcome(fault, at, code, seconds, left(ns, veths), run.lines, note)


def clean_run(ns: Namespace) -> subprocess.CompletedProcess:
    """The next run of the box: the smoke checks must sign it off."""
    return ns.harness("verify", "--box", BOX, "-m", "smoke")
