"""Errors of the build module."""

from pathlib import Path

from harness.errors import HarnessError


class BuildError(HarnessError):
    """A build that cannot finish. str() is one line: what went wrong, and where the full log is."""

    def __init__(self, message: str, log: Path | str | None = None):
        self.message = " ".join(str(message).split())
        self.log = Path(log) if log else None
        super().__init__(str(self))

    def __str__(self):
        if self.log:
            return f"{self.message} (full build log: {self.log})"
        return self.message
