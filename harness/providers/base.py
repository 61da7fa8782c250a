"""The provider interface: how a box's image is made and its instances started and stopped.

A provider only has to produce an SSH endpoint; everything after that (commands, files,
suites) goes through harness.transport and never knows which provider started the box.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from pathlib import Path

from ..catalog import Box
from ..state import Instance
from ..transport import Endpoint


class Provider(ABC):
    name: str = ""

    @abstractmethod
    def unavailable_reason(self, box: Box | None = None) -> str | None:
        """None when this provider can run `box` here, else why not and what to do."""

    @abstractmethod
    def image_build(self, box: Box, force: bool = False, mirror: str | None = None) -> Path:
        """Make the box's image once (cached by the box definition); return where it is."""

    @abstractmethod
    def image_cached(self, box: Box) -> bool:
        """True when an image for the current definition of `box` exists."""

    @abstractmethod
    def up(self, box: Box, name: str, timeout: float = 60.0) -> Instance:
        """Start an instance named `name` from the image; return once sshd answers."""

    def endpoint(self, instance: Instance) -> Endpoint:
        return Endpoint(instance.address, instance.port, instance.user, instance.key_file)

    @abstractmethod
    def snapshot(self, instance: Instance, snapshot: str) -> None: ...

    @abstractmethod
    def restore(self, instance: Instance, snapshot: str | None = None) -> None:
        """Return the instance to `snapshot`, or to the pristine image when None."""

    @abstractmethod
    def down(self, instance: Instance) -> None:
        """Stop the instance and remove everything it used."""

    @abstractmethod
    def is_running(self, instance: Instance) -> bool: ...

    def leftovers(self) -> list[str]:
        """Things of this provider's (processes, mounts, networks) that no record explains."""
        return []

    def remove_leftovers(self) -> None:
        """Remove what leftovers() reports."""

    def diagnostics(self, instance: Instance) -> str:
        """Console or journal tail to show when a box misbehaves."""
        return ""
