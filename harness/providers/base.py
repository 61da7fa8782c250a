"""The provider interface: how a box's image is made and its instances started and stopped.

A provider only has to produce an SSH endpoint; everything after that (commands, files,
suites) goes through harness.transport and never knows which provider started the box.
What every provider needs the same way lives here: the boot timeout, the "already up" and
"no such snapshot" checks, the instances of a provider.
"""

from __future__ import annotations

import shutil
from abc import ABC, abstractmethod
from pathlib import Path

from .. import settings, state
from ..catalog import Box
from ..errors import HarnessError, ProviderUnavailable
from ..state import Instance
from ..transport import Endpoint

DEFAULT_BOOT_TIMEOUT = 60.0


def configured_boot_timeout() -> float:
    """Seconds a box has to answer SSH: $SVH_BOOT_TIMEOUT, else 60."""
    return settings.current().boot_timeout


class Provider(ABC):
    name: str = ""

    # ---- availability -------------------------------------------------------------
    @abstractmethod
    def unavailable_reason(self, box: Box | None = None) -> str | None:
        """None when this provider can run `box` here, else why not and what to do."""

    def require(self, box: Box | None = None) -> None:
        reason = self.unavailable_reason(box)
        if reason:
            where = f" for {box.name}" if box else ""
            raise ProviderUnavailable(f"provider {self.name} unavailable{where}: {reason}")

    def boot_timeout(self, instance: Instance | None = None) -> float:
        """How long `instance` may take to answer after a boot, restore or snapshot."""
        return configured_boot_timeout()

    # ---- images -------------------------------------------------------------------
    @abstractmethod
    def image_build(self, box: Box, force: bool = False, mirror: str | None = None) -> Path:
        """Make the box's image once (cached by the box definition); return where it is."""

    @abstractmethod
    def image_cached(self, box: Box) -> bool:
        """True when an image for the current definition of `box` exists."""

    # ---- instances ----------------------------------------------------------------
    def up(self, box: Box, name: str) -> Instance:
        """Start an instance named `name` from the image; return once sshd answers. A box
        that fails to come up leaves nothing behind."""
        self.require(box)
        image = self.image_build(box)
        self.clear_dead_namesake(name)
        with state.locked():
            if state.load(name):
                raise HarnessError(
                    f"box {name} is already up (harness ssh {name}; "
                    f"harness down {name} to remove it)"
                )
            instance = self.new_instance(box, name, image)
            instance.owner = state.process_token()
            instance.run = settings.current().text("SVH_RUN")
            shutil.rmtree(instance.dir, ignore_errors=True)
            instance.save()
        try:
            self.start(box, instance)
        except BaseException:
            self.discard(instance)
            raise
        return instance

    def clear_dead_namesake(self, name: str) -> None:
        """Remove what a dead box named `name` left, unless a run that still goes owns it
        (it cleans up at its end): then refuse, naming what is left."""
        existing = state.load(name)
        if existing is not None and (existing.provider != self.name or self.is_running(existing)):
            return  # up: "already up" below
        left = self.leftovers(only=name)
        if existing is not None:
            left = left or [f"record {existing.dir}"]
        if existing is not None and state.owner_alive(existing):
            shown = "; ".join(left[:3]) + ("; ..." if len(left) > 3 else "")
            raise HarnessError(
                f"box {name} cannot start: a dead box of that name, still owned by running "
                f"process {existing.owner.split(':')[0]}, left {len(left)} things ({shown}); "
                f"harness down {name} removes them"
            )
        if existing is not None:
            self.down(existing)
        elif left:
            self.remove_leftovers(only=name)

    def discard(self, instance: Instance) -> None:
        """Remove an instance whose start failed or was interrupted."""
        self.down(instance)

    @abstractmethod
    def new_instance(self, box: Box, name: str, image: Path) -> Instance:
        """The record of a new instance (called under the state lock: allocate here)."""

    @abstractmethod
    def start(self, box: Box, instance: Instance) -> None:
        """Start the recorded instance; return once sshd answers."""

    def endpoint(self, instance: Instance) -> Endpoint:
        return Endpoint(instance.address, instance.port, instance.user, instance.key_file)

    @abstractmethod
    def snapshot(self, instance: Instance, snapshot: str) -> None: ...

    def restore(self, instance: Instance, snapshot: str | None = None) -> None:
        """Return the instance to `snapshot`, or to the pristine image when None."""
        if snapshot is not None and snapshot not in instance.snapshots:
            known = ", ".join(instance.snapshots) or "none"
            raise HarnessError(
                f"box {instance.name} has no snapshot '{snapshot}' "
                f"(snapshots: {known}; harness snapshot {instance.name} NAME)"
            )
        self.restore_to(instance, snapshot)

    @abstractmethod
    def restore_to(self, instance: Instance, snapshot: str | None) -> None:
        """restore() once the snapshot is known to exist."""

    @abstractmethod
    def down(self, instance: Instance) -> None:
        """Stop the instance and remove everything it used."""

    @abstractmethod
    def is_running(self, instance: Instance) -> bool: ...

    def lost(self, instance: Instance) -> str | None:
        """Why the instance is gone, where that is cheap to know (after every check), else
        None: a box that died must not go on answering as if nothing happened."""
        return None

    def halt(self, instance: Instance) -> None:  # noqa: B027 (optional: most need nothing)
        """Stop whatever of a lost instance still runs; its record and layers stay, so a
        restore can boot it again."""

    def instances(self) -> list[Instance]:
        """The recorded instances of this provider."""
        return [i for i in state.all_instances() if i.provider == self.name]

    # ---- leftovers of crashed runs ------------------------------------------------
    def leftovers(self, only: str | None = None) -> list[str]:
        """Things of this provider's (processes, links, mounts, networks) that belong to no
        box that is up: of every such box, or of box `only`."""
        return []

    def remove_leftovers(self, only: str | None = None) -> list[str]:
        """Remove what leftovers(only) reports; returns what was removed."""
        return []
