"""The live progress of `harness verify`: one line per box (phase, checks passed and failed
so far, elapsed time), read from the events the suite run appends (verification/events.py).

On a terminal it is a rich live table; in a CI log it is plain lines, printed when a box
changes phase, when a check fails, and every HEARTBEAT seconds, without control codes.
"""

from __future__ import annotations

import json
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

from rich.console import Console
from rich.live import Live
from rich.table import Table

from .report import FAILED

HEARTBEAT = 30.0
POLL = 0.5


@dataclass
class BoxProgress:
    box: str
    phase: str = "waiting"
    counts: dict[str, int] = field(default_factory=dict)
    failures: list[str] = field(default_factory=list)

    @property
    def failed(self) -> int:
        return self.counts.get("failed", 0) + self.counts.get("error", 0)

    def line(self, elapsed: float) -> str:
        return (
            f"{self.box}: {self.phase}, {self.counts.get('passed', 0)} passed, "
            f"{self.failed} failed, {self.counts.get('skipped', 0)} skipped, {elapsed:.0f}s"
        )


class LiveProgress:
    """Context manager: follows `events` from a thread while the suites run."""

    def __init__(self, boxes: list[str], events: Path, console: Console):
        self.boxes = {box: BoxProgress(box) for box in boxes}
        self.events = events
        self.console = console
        self.started = time.monotonic()
        self._offset = 0
        self._reading = threading.Lock()  # the follower thread and the last read at exit
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._follow, daemon=True)
        self._live: Live | None = None
        self._last_heartbeat = self.started

    def __enter__(self) -> LiveProgress:
        self.events.touch()
        if self.console.is_terminal:
            self._live = Live(self.table(), console=self.console, refresh_per_second=2)
            self._live.start()
        else:
            for progress in self.boxes.values():
                self._say(progress)
        self._thread.start()
        return self

    def __exit__(self, exc_type, *exc) -> None:
        self._stop.set()
        self._thread.join()
        self.read()  # the last events
        for progress in self.boxes.values():
            progress.phase = "done" if exc_type is None else "stopped"
        if self._live is not None:
            self._live.update(self.table())
            self._live.stop()
        else:
            for progress in self.boxes.values():
                self._say(progress)

    @property
    def elapsed(self) -> float:
        return time.monotonic() - self.started

    def table(self) -> Table:
        table = Table("box", "phase", "passed", "failed", "skipped", "elapsed", box=None)
        for p in self.boxes.values():
            failed = f"[red]{p.failed}[/red]" if p.failed else "0"
            table.add_row(
                p.box,
                p.phase,
                str(p.counts.get("passed", 0)),
                failed,
                str(p.counts.get("skipped", 0)),
                f"{self.elapsed:.0f}s",
            )
        return table

    def _say(self, progress: BoxProgress, extra: str = "") -> None:
        line = progress.line(self.elapsed) + extra
        self.console.print(line, markup=False, highlight=False, soft_wrap=True)

    def read(self) -> None:
        """Apply the events appended since the last read (whole lines only)."""
        with self._reading:
            with open(self.events, "rb") as f:
                f.seek(self._offset)
                chunk = f.read()
            complete = chunk[: chunk.rfind(b"\n") + 1]
            self._offset += len(complete)
            for line in complete.decode(errors="replace").splitlines():
                try:
                    event = json.loads(line)
                except ValueError:
                    continue
                self.apply(event)

    def apply(self, event: dict) -> None:
        progress = self.boxes.get(event.get("box", ""))
        if progress is None:
            return
        if "phase" in event and event["phase"] != progress.phase:
            progress.phase = event["phase"]
            if self._live is None:
                self._say(progress)
        outcome = event.get("outcome")
        if outcome:
            progress.counts[outcome] = progress.counts.get(outcome, 0) + 1
            if outcome in FAILED:
                progress.failures.append(event.get("check", "?"))
                if self._live is None:
                    self._say(progress, f" (failed: {event.get('check', '?')})")

    def _follow(self) -> None:
        while not self._stop.wait(POLL):
            self.read()
            if self._live is not None:
                self._live.update(self.table())
            elif time.monotonic() - self._last_heartbeat >= HEARTBEAT:
                self._last_heartbeat = time.monotonic()
                for progress in self.boxes.values():
                    self._say(progress)
