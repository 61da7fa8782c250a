"""The private bridge the boxes live on: boxes reach each other and the host, nothing else
(no default route in the boxes, no NAT on the host); each box's static address and veth."""

from __future__ import annotations

import ipaddress
import os
import re
import subprocess
import time
from pathlib import Path

from ... import settings
from ...runner import capture

FIRST_HOST = 10


# Overridable so a test run can live on a bridge of its own, next to a user's boxes.
def bridge() -> str:
    return settings.current().text("SVH_BRIDGE", "svh-br0")


def network() -> ipaddress.IPv4Network | ipaddress.IPv6Network:
    return ipaddress.ip_network(settings.current().text("SVH_NETWORK", "10.242.17.0/24"))


def gateway() -> ipaddress.IPv4Address | ipaddress.IPv6Address:
    return network().network_address + 1


def _ip(*args: str, check: bool = True) -> subprocess.CompletedProcess:
    return capture(["ip", *args], check=check)


def bridge_exists() -> bool:
    return _ip("link", "show", bridge(), check=False).returncode == 0


def ensure_bridge() -> None:
    if bridge_exists():
        return
    _ip("link", "add", bridge(), "type", "bridge")
    _ip("addr", "add", f"{gateway()}/{network().prefixlen}", "dev", bridge())
    _ip("link", "set", bridge(), "up")


def remove_bridge() -> None:
    if bridge_exists():
        _ip("link", "del", bridge())


def allocate_address(taken: set[str]) -> str:
    for n, host in enumerate(network().hosts()):
        if n + 1 >= FIRST_HOST and str(host) not in taken:
            return str(host)
    raise RuntimeError(f"no free address left on {network()}")


def networkd_config(address: str) -> str:
    """systemd-networkd file for host0. Named 10-... so it sorts before the shipped
    80-container-host0.network; no Gateway: nothing beyond the bridge."""
    return (
        "[Match]\nName=host0\n\n[Network]\n"
        f"Address={address}/{network().prefixlen}\n"
        "LinkLocalAddressing=no\nIPv6AcceptRA=no\n"
    )


def host_veth(init_pid: int) -> str | None:
    """The host side of the veth whose other end is host0 in the network namespace of
    init_pid (`host0@ifN`: N is the host end's index)."""
    shown = capture(["nsenter", "-t", str(init_pid), "-n", "ip", "-o", "link", "show", "host0"])
    peer = re.search(r"host0@if(\d+):", shown.stdout)
    if shown.returncode != 0 or not peer:
        return None
    for link in Path("/sys/class/net").iterdir():
        try:
            if (link / "ifindex").read_text().strip() == peer.group(1):
                return link.name
        except OSError:
            continue
    return None


def bridge_ports() -> list[str]:
    """The links on the bridge: the host ends of the boxes' veths."""
    brif = Path("/sys/class/net", bridge(), "brif")
    return sorted(p.name for p in brif.iterdir()) if brif.is_dir() else []


def _netns(pid: int) -> str | None:
    try:
        return os.readlink(f"/proc/{pid}/ns/net")
    except OSError:
        return None


def veth_of(pids: list[int]) -> str | None:
    """The host end of the veth of the container these processes are in: found through
    the first of them in a network namespace other than the host's."""
    host = _netns(os.getpid())
    for pid in pids:
        netns = _netns(pid)
        if netns and netns != host:
            return host_veth(pid)
    return None


def remove_veth(veth: str | None, timeout: float = 10.0) -> None:
    """The kernel drops a dead container's veth only some time later, and a quick restart
    (restore, snapshot) must not find it still there: delete it until it is gone (a
    container killed in the middle of its shutdown holds it a moment longer)."""
    deadline = time.monotonic() + timeout
    while veth and Path("/sys/class/net", veth).exists() and time.monotonic() < deadline:
        _ip("link", "del", veth, check=False)  # deleting one end removes the pair
        time.sleep(0.05)
