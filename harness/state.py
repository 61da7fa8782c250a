"""Records of running instances, one JSON file each, so any later command (or a later run
after a crash) can find, enter and remove what the harness started."""

from __future__ import annotations

import fcntl
import json
import os
import time
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path

from . import paths


@dataclass
class ProviderDetails:
    """What a provider keeps about its instance (an empty field: not this provider's)."""

    pid1: str = ""  # nspawn: systemd, or svh-init on a glibc 2.17 root
    veth: str = ""  # nspawn: the host side of the box's link
    layers_home: str = ""  # nspawn: where its writable layers live
    hypervisor: str = ""  # vagrant: virtualbox or libvirt
    driver: str = ""  # vagrant on libvirt: kvm or qemu
    domain: str = ""  # vagrant on libvirt: the domain's name
    vagrant_box: str = ""  # vagrant: the offline box made for it

    @classmethod
    def from_record(cls, record: dict) -> ProviderDetails:
        """From instance.json, also one an older harness wrote: a box must never become
        invisible (its address free for another) because its record has other keys."""
        record = {"pid1": record.get("init", ""), **record}
        known = {f.name for f in fields(cls)}
        return cls(**{k: str(v) for k, v in record.items() if k in known and v})


@dataclass
class Instance:
    name: str  # instance name, also the box's hostname
    box_name: str  # its catalog entry
    provider: str
    address: str = ""  # where sshd answers
    port: int = 22
    user: str = "root"
    key_file: str = ""
    pid: int = 0  # nspawn: the systemd-nspawn process
    image: str = ""
    layers: list[str] = field(default_factory=list)  # snapshot layers under the upper dir
    snapshots: dict[str, list[str]] = field(default_factory=dict)
    started_at: float = field(default_factory=time.time)
    owner: str = ""  # the process that started it (process_token()): a run that may clean it
    run: str = ""  # the run it belongs to (SVH_RUN): taken down at that run's end
    extra: ProviderDetails = field(default_factory=ProviderDetails)

    def __post_init__(self):
        details: object = self.extra
        if isinstance(details, dict):  # read back from instance.json
            self.extra = ProviderDetails.from_record(details)

    @property
    def dir(self) -> Path:
        return paths.instances_dir() / self.name

    def save(self):
        self.dir.mkdir(parents=True, exist_ok=True)
        tmp = self.dir / "instance.json.tmp"
        tmp.write_text(json.dumps(asdict(self), indent=2))
        tmp.rename(self.dir / "instance.json")

    def forget(self):
        (self.dir / "instance.json").unlink(missing_ok=True)


def process_token(pid: int | None = None) -> str:
    """PID and start time of a process: names it even after its PID is reused."""
    pid = pid or os.getpid()
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return ""
    return f"{pid}:{stat.rpartition(')')[2].split()[19]}"


def owner_alive(instance: Instance) -> bool:
    """Whether the process that started the instance still runs (and may still clean it)."""
    if not instance.owner:
        return False
    pid = int(instance.owner.split(":")[0])
    return pid != os.getpid() and process_token(pid) == instance.owner


def is_current(instance: Instance) -> bool:
    """Whether `instance` is still the box its record names: not taken down by another
    command (harness down) and its name reused by a later box, which a run that held the
    old one must never touch."""
    record = load(instance.name)
    return record is not None and (record.owner, record.started_at) == (
        instance.owner,
        instance.started_at,
    )


def load(name: str) -> Instance | None:
    record = paths.instances_dir() / name / "instance.json"
    try:
        data = json.loads(record.read_text())
        known = {f.name for f in fields(Instance)}
        # Keys another harness version wrote are left out, never the whole box.
        return Instance(**{k: v for k, v in data.items() if k in known})
    except (OSError, ValueError, TypeError, AttributeError):
        return None


def all_instances() -> list[Instance]:
    root = paths.instances_dir()
    if not root.is_dir():
        return []
    found = (load(p.name) for p in sorted(root.iterdir()) if p.is_dir())
    return [i for i in found if i is not None]


@contextmanager
def locked(lock_file: Path | None = None):
    """Serialise changes to shared state (addresses, the bridge) across processes."""
    lock_file = lock_file or paths.state_dir() / ".lock"
    lock_file.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(lock_file, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        fcntl.flock(fd, fcntl.LOCK_UN)
        os.close(fd)
