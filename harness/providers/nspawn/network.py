"""The private bridge the boxes live on: boxes reach each other and the host, nothing else
(no default route in the boxes, no NAT on the host); each box's static address and veth."""

from __future__ import annotations

import ipaddress
import os
import subprocess
import time
from pathlib import Path

from ...state import Instance

# Overridable so a test run can live on a bridge of its own, next to a user's boxes.
BRIDGE = os.environ.get("SVH_BRIDGE", "svh-br0")
NETWORK = ipaddress.ip_network(os.environ.get("SVH_NETWORK", "10.242.17.0/24"))
GATEWAY = NETWORK.network_address + 1
FIRST_HOST = 10


def _ip(*args: str, check: bool = True) -> subprocess.CompletedProcess:
    return subprocess.run(["ip", *args], capture_output=True, text=True, check=check)


def bridge_exists() -> bool:
    return _ip("link", "show", BRIDGE, check=False).returncode == 0


def ensure_bridge() -> None:
    if bridge_exists():
        return
    _ip("link", "add", BRIDGE, "type", "bridge")
    _ip("addr", "add", f"{GATEWAY}/{NETWORK.prefixlen}", "dev", BRIDGE)
    _ip("link", "set", BRIDGE, "up")


def remove_bridge() -> None:
    if bridge_exists():
        _ip("link", "del", BRIDGE)


def allocate_address(taken: set[str]) -> str:
    for n, host in enumerate(NETWORK.hosts()):
        if n + 1 >= FIRST_HOST and str(host) not in taken:
            return str(host)
    raise RuntimeError(f"no free address left on {NETWORK}")


def networkd_config(address: str) -> str:
    """systemd-networkd file for host0. Named 10-... so it sorts before the shipped
    80-container-host0.network; no Gateway: nothing beyond the bridge."""
    return (
        "[Match]\nName=host0\n\n[Network]\n"
        f"Address={address}/{NETWORK.prefixlen}\n"
        "LinkLocalAddressing=no\nIPv6AcceptRA=no\n"
    )


def host_veth(init_pid: int) -> str | None:
    """The host side of the veth whose other end is host0 in the container of init_pid."""
    peer = subprocess.run(
        ["nsenter", "-t", str(init_pid), "-n", "cat", "/sys/class/net/host0/iflink"],
        capture_output=True,
        text=True,
    )
    if peer.returncode != 0:
        return None
    for link in Path("/sys/class/net").iterdir():
        try:
            if (link / "ifindex").read_text().strip() == peer.stdout.strip():
                return link.name
        except OSError:
            continue
    return None


def remove_veth(instance: Instance, timeout: float = 10.0) -> None:
    """The kernel drops a dead container's veth only some time later, and a quick restart
    (restore, snapshot) must not find it still there: delete the recorded one until it is
    gone (a container killed in the middle of its shutdown holds it a moment longer)."""
    veth = instance.extra.get("veth")
    deadline = time.monotonic() + timeout
    while veth and Path("/sys/class/net", veth).exists() and time.monotonic() < deadline:
        _ip("link", "del", veth, check=False)  # deleting one end removes the pair
        time.sleep(0.05)
