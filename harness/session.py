"""Bring boxes up and down from Python: the API that the CLI, the pytest plugin and the
build module share."""

from __future__ import annotations

import os
import signal
from contextlib import contextmanager

from . import catalog, state
from .catalog import Box
from .errors import HarnessError
from .providers import PROVIDERS, get_provider
from .providers.base import Provider
from .transport import Machine


def boot_timeout() -> float:
    return float(os.environ.get("SVH_BOOT_TIMEOUT", 60))


def default_provider(box: Box) -> str:
    """The first of the box's providers that can run here (nspawn before vagrant)."""
    reasons = []
    for name in box.provider_names:
        reason = get_provider(name).unavailable_reason(box)
        if reason is None:
            return name
        reasons.append(f"{name}: {reason}")
    raise HarnessError(f"box {box.name} cannot run here ({'; '.join(reasons)})")


def resolve(box: Box, provider: str | None) -> Provider:
    if provider is None:
        provider = default_provider(box)
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


def up(box_name: str, provider: str | None = None, name: str | None = None) -> state.Instance:
    box = catalog.load_box(box_name)
    return resolve(box, provider).up(box, name or box.name, boot_timeout())


def find(name: str) -> state.Instance:
    instance = state.load(name)
    if instance is None:
        running = ", ".join(i.name for i in state.all_instances()) or "none"
        raise HarnessError(
            f"box {name} is not up (up now: {running}; start it with harness up {name})"
        )
    return instance


def machine_for(instance: state.Instance) -> Machine:
    box = catalog.load_box(instance.box)
    machine = Machine(instance.name, get_provider(instance.provider).endpoint(instance), box)
    machine.instance = instance  # so snapshot() and restore() find the box behind it
    return machine


def settle(machine: Machine):
    """Wait until the box's boot has finished: sshd answers early, while services that
    packages enabled (salt-minion) may still be queued."""
    if machine.box is not None and machine.box.init == "systemd":
        machine.run(
            "systemctl is-system-running --wait >/dev/null", check=False, timeout=boot_timeout()
        )


def snapshot(machine: Machine, name: str):
    machine.close()
    get_provider(machine.instance.provider).snapshot(machine.instance, name)
    machine.connect(boot_timeout())
    settle(machine)


def restore(machine: Machine, name: str | None = None):
    """Back to snapshot `name` (default: pristine); the machine reconnects."""
    machine.close()
    get_provider(machine.instance.provider).restore(machine.instance, name)
    machine.connect(boot_timeout())
    settle(machine)


def down(instance: state.Instance):
    get_provider(instance.provider).down(instance)


def down_all() -> list[str]:
    removed = []
    for instance in state.all_instances():
        down(instance)
        removed.append(instance.name)
    for name in PROVIDERS:
        get_provider(name).remove_leftovers()
    return removed


@contextmanager
def box_instance(
    box_name: str, provider: str | None = None, name: str | None = None, keep: bool = False
):
    """A fresh instance of `box_name`, connected; removed on exit unless `keep`."""
    box = catalog.load_box(box_name)
    chosen = resolve(box, provider)
    instance = chosen.up(box, name or box.name, boot_timeout())
    machine = None
    try:
        machine = Machine(instance.name, chosen.endpoint(instance), box).connect(boot_timeout())
        yield machine
    finally:
        if machine:
            machine.close()
        if not keep:
            chosen.down(instance)


def terminate_as_interrupt():
    """Let SIGTERM unwind like Ctrl-C, so every `finally` removes what it started. SIGINT
    too is set explicitly: a process started in the background inherits it ignored."""

    def handler(signum, frame):
        raise KeyboardInterrupt(f"signal {signum}")

    signal.signal(signal.SIGTERM, handler)
    signal.signal(signal.SIGINT, signal.default_int_handler)
