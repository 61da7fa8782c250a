"""The one door to boxes: the CLI, the pytest plugin and the build module bring boxes up,
reach them and take them down through here, never through a provider directly."""

from __future__ import annotations

import signal
import threading
import time
import weakref
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from . import catalog, platform, state
from .catalog import Box
from .errors import HarnessError
from .providers import PROVIDERS, get_provider
from .providers.base import Provider
from .state import Instance
from .transport import Machine


def availability(box: Box) -> dict[str, str | None]:
    """For each of the box's providers: None when it can run the box here, else why not."""
    return {name: get_provider(name).unavailable_reason(box) for name in box.provider_names}


def default_provider(box: Box) -> str:
    """The first of the box's providers that can run here (nspawn before vagrant). The later
    ones are not asked: asking vagrant runs `vagrant plugin list`, about a second."""
    reasons = {}
    for name in box.provider_names:
        reason = get_provider(name).unavailable_reason(box)
        if reason is None:
            return name
        reasons[name] = reason
    why = "; ".join(f"{name}: {reason}" for name, reason in reasons.items())
    raise HarnessError(f"box {box.name} cannot run here ({why})")


def resolve(box: Box, provider: str | None) -> Provider:
    if provider is None:
        return get_provider(default_provider(box))  # asked already: it can run here
    if provider not in PROVIDERS:
        raise HarnessError(f"unknown provider '{provider}' (known: {', '.join(PROVIDERS)})")
    if provider not in box.provider_names:
        raise HarnessError(
            f"box {box.name} has no {provider} provider (it has: {', '.join(box.provider_names)})"
        )
    chosen = get_provider(provider)
    reason = chosen.unavailable_reason(box)
    if reason:
        raise HarnessError(f"provider {provider} cannot run {box.name} here: {reason}")
    return chosen


def provider_of(instance: Instance) -> Provider:
    return get_provider(instance.provider)


def image_build(
    box_name: str, provider: str | None = None, force: bool = False, mirror: str | None = None
) -> tuple[Path, bool]:
    """The box's image, built when missing or forced; (where it is, whether it was cached)."""
    box = catalog.load_box(box_name)
    chosen = resolve(box, provider)
    cached = chosen.image_cached(box) and not force and not mirror
    return chosen.image_build(box, force=force, mirror=mirror), cached


def up(box_name: str, provider: str | None = None, name: str | None = None) -> Instance:
    box = catalog.load_box(box_name)
    return resolve(box, provider).up(box, name or box.name)


def up_many(box_names: list[str], provider: str | None = None) -> list[Instance]:
    """Start several boxes at once; if one fails (or Ctrl-C), the others go down too."""
    boxes = [catalog.load_box(n) for n in dict.fromkeys(box_names)]
    chosen = {b.name: resolve(b, provider) for b in boxes}
    for b in boxes:  # images first, one at a time: they compete for the same disk and mirror
        chosen[b.name].image_build(b)
    pool = ThreadPoolExecutor(max_workers=len(boxes))
    futures = [pool.submit(chosen[b.name].up, b, b.name) for b in boxes]
    try:
        instances = [f.result() for f in futures]
    except BaseException:
        pool.shutdown(wait=True)
        for f in futures:
            if not f.exception():
                down(f.result())
        raise
    pool.shutdown()
    return instances


def find(name: str) -> Instance:
    instance = state.load(name)
    if instance is None:
        running = ", ".join(i.name for i in state.all_instances()) or "none"
        raise HarnessError(
            f"box {name} is not up (up now: {running}; start it with harness up {name})"
        )
    return instance


def machine_for(instance: Instance) -> Machine:
    """A Machine (not yet connected) for a running instance."""
    spec = catalog.load_box(instance.box_name)
    return Machine(instance.name, provider_of(instance).endpoint(instance), spec, instance)


def connect(instance: Instance) -> Machine:
    """A connected Machine for a running instance, once its boot has settled."""
    machine = machine_for(instance).connect(provider_of(instance).boot_timeout(instance))
    settle(machine)
    return machine


def settle(machine: Machine) -> None:
    """Wait until the box's boot has finished: sshd answers early, while services that
    packages enabled (salt-minion) may still be queued."""
    booted = platform.of(machine.spec).services.booted()
    if booted and machine.instance:
        timeout = provider_of(machine.instance).boot_timeout(machine.instance)
        machine.run(booted, check=False, timeout=timeout)


def snapshot(instance: Instance, name: str) -> float:
    """Save the instance's state as `name`; returns the seconds it took."""
    if not name.replace("-", "").replace("_", "").replace(".", "").isalnum():
        raise HarnessError(f"bad snapshot name '{name}' (use letters, digits, - _ .)")
    started = time.monotonic()
    provider_of(instance).snapshot(instance, name)
    return time.monotonic() - started


def restore(instance: Instance, name: str | None = None) -> float:
    """Back to snapshot `name` (default: pristine); returns the seconds it took."""
    started = time.monotonic()
    provider_of(instance).restore(instance, name)
    return time.monotonic() - started


def snapshot_machine(machine: Machine, name: str) -> None:
    """snapshot() of a connected machine, which reconnects afterwards."""
    assert machine.instance is not None
    machine.close()
    snapshot(machine.instance, name)
    _reconnect(machine, name)


def restore_machine(machine: Machine, name: str | None = None) -> None:
    """restore() of a connected machine, which reconnects afterwards. A box that booted
    from snapshot `name` and has had nothing run or copied since is that snapshot already
    (a snapshot boots the box again): it is left as it is."""
    assert machine.instance is not None
    if name is not None and _booted_from.get(machine) == (name, machine.actions):
        return
    machine.close()
    restore(machine.instance, name)
    _reconnect(machine, name)


# For each machine: the snapshot it last booted from, and its transport's action count
# right after that boot (the session's bookkeeping, not the transport's).
_booted_from: weakref.WeakKeyDictionary[Machine, tuple[str | None, int]] = (
    weakref.WeakKeyDictionary()
)


def _reconnect(machine: Machine, booted_from: str | None) -> None:
    assert machine.instance is not None
    machine.connect(provider_of(machine.instance).boot_timeout(machine.instance))
    settle(machine)
    _booted_from[machine] = (booted_from, machine.actions)


_deferring = False  # a removal further up already holds interrupts back


@contextmanager
def interrupts_deferred() -> Iterator[None]:
    """Removing boxes runs to its end: a Ctrl-C or SIGTERM that comes meanwhile (a parent
    passing on the user's Ctrl-C, a second Ctrl-C) is raised once it is done. Half a
    removal would leave a mount, a link or a record behind. Main thread only (signals)."""
    global _deferring
    if threading.current_thread() is not threading.main_thread() or _deferring:
        yield  # another thread, or already deferring further up
        return
    previous = {s: signal.getsignal(s) for s in (signal.SIGINT, signal.SIGTERM)}
    _deferring = True
    came: list[int] = []
    for s in previous:
        signal.signal(s, lambda signum, frame: came.append(signum))
    try:
        yield
    finally:
        for s, handler in previous.items():
            signal.signal(s, handler)
        _deferring = False
    if came:
        raise KeyboardInterrupt(f"signal {came[0]}, after the boxes were removed")


def down(instance: Instance) -> None:
    """Take the instance down, unless another command did already (and its name may now
    belong to a later box)."""
    with interrupts_deferred():
        if state.is_current(instance):
            provider_of(instance).down(instance)


def halt_if_lost(instance: Instance) -> str | None:
    """Why a box died under a run (and what still ran of it is stopped), else None."""
    if not state.is_current(instance):
        return "it was taken down by another command"
    provider = provider_of(instance)
    why = provider.lost(instance)
    if why:
        provider.halt(instance)
    return why


def down_named(name: str) -> list[str]:
    """Take box `name` down: its instance, or else what a dead box of that name left
    (returned). A name with neither is not up."""
    instance = state.load(name)
    if instance is not None:
        down(instance)
        return []
    removed = [item for p in PROVIDERS for item in get_provider(p).remove_leftovers(only=name)]
    if not removed:
        find(name)
    return removed


@dataclass(frozen=True)
class Cleanup:
    boxes: list[str]  # instances taken down
    removed: list[str]  # leftovers removed
    remaining: list[str]  # what a check after the removal still finds


def down_all() -> Cleanup:
    boxes = []
    for instance in state.all_instances():
        down(instance)
        boxes.append(instance.name)
    removed = [item for name in PROVIDERS for item in get_provider(name).remove_leftovers()]
    return Cleanup(boxes, removed, leftovers())


def new_run() -> str:
    """A token naming a run (this process, even after its PID is reused): SVH_RUN."""
    return state.process_token()


def down_run(run: str) -> list[str]:
    """Take down every box of `run` still up: those whose own process could not, because it
    was killed (xdist kills a worker 10 s into an interrupt; a second Ctrl-C kills all)."""
    gone = []
    for instance in state.all_instances():
        if run and instance.run == run:
            down(instance)
            gone.append(instance.name)
    return gone


def leftovers() -> list[str]:
    """What belongs to no box that is up, in every provider."""
    return [item for name in PROVIDERS for item in get_provider(name).leftovers()]


@dataclass(frozen=True)
class Status:
    instance: Instance
    running: bool


def status() -> tuple[list[Status], list[str]]:
    """The recorded instances with whether each runs, and the leftovers of crashed runs."""
    rows = [Status(i, provider_of(i).is_running(i)) for i in state.all_instances()]
    return rows, leftovers()


@contextmanager
def box_instance(
    box_name: str, provider: str | None = None, name: str | None = None, keep: bool = False
) -> Iterator[Machine]:
    """A fresh instance of `box_name`, connected; removed on exit unless `keep`."""
    instance = up(box_name, provider, name)
    machine = None
    try:
        machine = machine_for(instance).connect(provider_of(instance).boot_timeout(instance))
        yield machine
    finally:
        if machine:
            machine.close()
        if not keep:
            down(instance)


def terminate_as_interrupt() -> None:
    """Let SIGTERM unwind like Ctrl-C, so every `finally` removes what it started. SIGINT
    too is set explicitly: a process started in the background inherits it ignored."""

    def handler(signum, frame):
        raise KeyboardInterrupt(f"signal {signum}")

    signal.signal(signal.SIGTERM, handler)
    signal.signal(signal.SIGINT, signal.default_int_handler)
