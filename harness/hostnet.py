"""The private bridge the boxes live on: boxes reach each other and the host, nothing else
(no default route in the boxes, no NAT on the host)."""

from __future__ import annotations

import ipaddress
import os
import subprocess

# Overridable so a test run can live on a bridge of its own, next to a user's boxes.
BRIDGE = os.environ.get("SVH_BRIDGE", "svh-br0")
NETWORK = ipaddress.ip_network(os.environ.get("SVH_NETWORK", "10.242.17.0/24"))
GATEWAY = NETWORK.network_address + 1
FIRST_HOST = 10


def _ip(*args: str, check=True) -> subprocess.CompletedProcess:
    return subprocess.run(["ip", *args], capture_output=True, text=True, check=check)


def bridge_exists() -> bool:
    return _ip("link", "show", BRIDGE, check=False).returncode == 0


def ensure_bridge():
    if bridge_exists():
        return
    _ip("link", "add", BRIDGE, "type", "bridge")
    _ip("addr", "add", f"{GATEWAY}/{NETWORK.prefixlen}", "dev", BRIDGE)
    _ip("link", "set", BRIDGE, "up")


def remove_bridge():
    if bridge_exists():
        _ip("link", "del", BRIDGE)


def allocate_address(taken: set[str]) -> str:
    for n, host in enumerate(NETWORK.hosts()):
        if n + 1 >= FIRST_HOST and str(host) not in taken:
            return str(host)
    raise RuntimeError(f"no free address left on {NETWORK}")
