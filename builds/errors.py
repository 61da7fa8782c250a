"""Errors of the build module."""

from harness.errors import LoggedError


class BuildError(LoggedError):
    """A build that cannot finish. str() is one line: what went wrong, and where the full log is."""

    log_word = "build log"
