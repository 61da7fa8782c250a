"""Errors of the harness.

HarnessError is anything a user can cause or fix; the CLI and the pytest plugin print
its message as one line, never a traceback.
"""

from pathlib import Path


class HarnessError(Exception):
    """A problem the user can act on; str() is one line: what is wrong, what to do."""


class LoggedError(HarnessError):
    """A failed step whose whole output is in a log: str() is one line naming it."""

    log_word = "log"

    def __init__(self, message: str, log: Path | str | None = None):
        self.message = " ".join(str(message).split())
        self.log = Path(log) if log else None
        super().__init__(str(self))

    def __str__(self):
        if self.log:
            return f"{self.message} (full {self.log_word}: {self.log})"
        return self.message


class CatalogError(HarnessError):
    pass


class ProviderUnavailable(HarnessError):
    pass


class BoxTimeout(HarnessError):
    pass


class SessionLost(HarnessError):
    """The SSH session to a box dropped (sshd ended, or the box died)."""


class CommandError(HarnessError):
    """A command on a box exited non-zero."""

    def __init__(self, box, command, exit_status, stdout="", stderr=""):
        self.box = box
        self.command = command
        self.exit_status = exit_status
        self.stdout = stdout
        self.stderr = stderr
        super().__init__(str(self))

    @staticmethod
    def _tail(text, lines=15):
        kept = (text or "").rstrip().splitlines()[-lines:]
        return "\n".join("    " + line for line in kept)

    def __str__(self):
        parts = [f"on box {self.box}: `{self.command}` exited {self.exit_status}"]
        if self.stdout and self.stdout.strip():
            parts.append("  stdout (tail):\n" + self._tail(self.stdout))
        if self.stderr and self.stderr.strip():
            parts.append("  stderr (tail):\n" + self._tail(self.stderr))
        return "\n".join(parts)
