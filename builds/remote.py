"""Running build steps on a build box: every command's output goes to the build log, the
latest line to the progress display, and a failure becomes one BuildError naming the log.

Bulk copies are the machine's (harness.transport: the OpenSSH client, one tar stream).
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import paramiko

from harness import progress
from harness.errors import CommandError, HarnessError

from .errors import BuildError


class _LogTee:
    """Binary sink for run_streaming: appends to the log, shows the latest line."""

    def __init__(self, log_file):
        self.log_file = log_file
        self.partial = b""

    def write(self, data: bytes):
        self.log_file.write(data)
        lines = (self.partial + data).split(b"\n")
        self.partial = lines[-1][-500:]
        for line in reversed(lines[:-1]):
            if line.strip():
                progress.detail(line.decode(errors="replace").strip())
                break

    def flush(self):
        self.log_file.flush()


def _copying(method: str, doc: str):
    """A BoxRunner method: the machine's copy `method`, noted in and failing into the log."""

    def copy(self: BoxRunner, source, destination, what: str) -> None:
        with self._copy(what, f"{source} -> {destination}"):
            getattr(self.machine, method)(source, destination)

    copy.__doc__ = doc
    return copy


class BoxRunner:
    """A build box plus the build log every step appends to."""

    def __init__(self, machine, log: Path):
        self.machine = machine
        self.log = Path(log)
        self.log.parent.mkdir(parents=True, exist_ok=True)

    def note(self, text: str):
        with open(self.log, "ab") as f:
            f.write(f"\n### {time.strftime('%H:%M:%S')} {text}\n".encode())

    def run(self, command: str, what: str, timeout: float | None = 3600) -> None:
        """Run a shell command on the box; its output goes to the log only."""
        self.note(f"{what}\n$ {command}")
        with open(self.log, "ab") as f:
            tee = _LogTee(f)
            try:
                status = self.machine.run_streaming(f"set -e\n{command}", tee, tee, timeout=timeout)
            except (
                HarnessError,
                EOFError,
                OSError,
                paramiko.SSHException,
            ) as e:  # lost connection, timeout
                reason = str(e).splitlines()[0] if str(e) else type(e).__name__
                raise BuildError(
                    f"{what} failed on {self.machine.name}: {reason}", self.log
                ) from None
        if status != 0:
            raise BuildError(
                f"{what} failed on {self.machine.name} (exit {status}): {self._last_line()}",
                self.log,
            )

    def output(self, command: str, what: str) -> str:
        """Run a short command and return its stdout (stderr goes to the log)."""
        self.note(f"{what}\n$ {command}")
        result = self.machine.run(command, check=False, timeout=600)
        with open(self.log, "ab") as f:
            f.write(result.stderr.encode())
        if result.exit_status != 0:
            raise BuildError(
                f"{what} failed on {self.machine.name} (exit {result.exit_status}): "
                f"{(result.stderr.strip().splitlines() or [''])[-1][:200]}",
                self.log,
            )
        return result.stdout

    def _last_line(self) -> str:
        try:
            with open(self.log, "rb") as f:
                f.seek(max(0, f.seek(0, 2) - 4096))
                lines = [
                    line for line in f.read().decode(errors="replace").splitlines() if line.strip()
                ]
            return lines[-1].strip()[:200] if lines else ""
        except OSError:
            return ""

    # ---- bulk copies (the machine's, with the build log's notes and errors) ----------
    @contextmanager
    def _copy(self, what: str, detail: str) -> Iterator[None]:
        self.note(f"{what}: {detail}")
        try:
            yield
        except CommandError as e:
            with open(self.log, "ab") as f:
                f.write(f"{e}\n".encode())
            raise BuildError(f"{what} failed (exit {e.exit_status})", self.log) from None

    copy_in = _copying("send_dir", "Copy the contents of a local dir into a dir on the box.")
    send_file = _copying("send_file", "Copy a local file to a path on the box.")
    send_tar = _copying("send_tar", "Unpack a local tarball into a dir on the box.")
    fetch = _copying("fetch", "Copy one file from the box to a local path.")
