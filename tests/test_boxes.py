"""Every selected box (--box) boots from its image and is what its catalog entry says."""

import re

import pytest

from harness import platform
from harness.platform import Unsupported


def upstream_version(debian_version: str) -> str:
    """'1:6.2.0-3+deb12u1' -> '6.2.0'; '2.28.1+dfsg-1' -> '2.28.1' (repacked tarball)."""
    without_revision = re.sub(r"-[^-]*$", "", debian_version.split(":", 1)[-1])
    return re.sub(r"[+~](dfsg|ds|repack)[0-9.]*$", "", without_revision)


def glibc_root(entry) -> bool:
    """A glibc 2.17 root (nspawn/glibc_root.py): svh-init is its PID 1 and 2.17 its C
    library, whatever the release it stands for has."""
    nspawn = entry.providers.nspawn
    return nspawn is not None and nspawn.root == "glibc-2.17"


def test_systemd_is_pid_1_and_the_boot_finished(host, machine):
    if glibc_root(machine.spec):
        assert host.run("cat /proc/1/comm").stdout.strip() == "svh-init"
        pytest.skip(f"{machine.spec.name} has no systemd (its PID 1 is svh-init)")
    if machine.spec.init != "systemd":
        assert host.run("cat /proc/1/comm").stdout.strip() != "systemd"
        pytest.skip(f"{machine.spec.name}'s init is {machine.spec.init}, not systemd")
    assert host.run("cat /proc/1/comm").stdout.strip() == "systemd"
    state = host.run("systemctl is-system-running --wait").stdout.strip()
    assert state in ("running", "degraded"), f"systemd state: {state}"
    failed = host.run("systemctl --failed --no-legend --plain").stdout.strip()
    assert not failed, f"failed units on {host.backend.get_hostname()}: {failed}"


def test_release_matches_the_catalog(host, machine):
    entry = machine.spec
    libc = host.check_output("ldd --version | head -n 1")
    # A glibc root's catalog glibc is the ceiling of the release it stands for (2.5, 2.12).
    assert libc.endswith(" 2.17" if glibc_root(entry) else f" {entry.glibc}"), libc
    if glibc_root(entry):  # its C library is what it is; os-release names the release
        assert not host.exists("python3")
        assert host.file("/etc/os-release").contains(f'^VERSION_ID="{entry.release}"$')
    else:
        info = host.system_info
        assert (info.distribution, info.release.split(".")[0]) == (entry.family, entry.release)
    assert entry.python.path is not None
    assert host.file(entry.python.path).exists
    version = host.check_output(
        f"{entry.python.path} -c 'import platform; print(platform.python_version())'"
    )
    assert version == entry.python.version


def test_conflict_packages_are_installed_at_the_catalog_versions(host, machine):
    entry = machine.spec
    packages = platform.of(entry).packages
    found = {}
    for lib in entry.conflicts:
        try:
            query = packages.version_of(lib.package)
        except Unsupported as e:
            pytest.skip(str(e))
        found[lib.package] = upstream_version(host.check_output(query))
    assert found == {lib.package: lib.version for lib in entry.conflicts}


def test_conflict_modules_import_from_the_distro(host, machine):
    """From the system Python's own site directory (/usr/local is the admin's, not the
    distribution's)."""
    entry = machine.spec
    sites = host.check_output(
        f"{entry.python.path} -c 'import site; print(chr(10).join(site.getsitepackages()))'"
    ).splitlines()
    sites = [site for site in sites if not site.startswith("/usr/local/")]
    for lib in entry.conflicts:
        where = host.check_output(
            f"{entry.python.path} -c 'import {lib.module}; print({lib.module}.__file__)'"
        )
        assert any(where.startswith(f"{site}/") for site in sites), f"{lib.module}: {where}"


def test_nothing_beyond_the_bridge_is_reachable(host):
    routes = host.run("ip route").stdout.splitlines()
    assert not [r for r in routes if r.startswith("default")], routes
    for address in ("1.1.1.1", "8.8.8.8", "192.168.1.1"):
        probe = host.run(f"ip route get {address}")
        assert probe.rc != 0 and "unreachable" in probe.stderr.lower(), (
            f"route to {address}: {probe.stdout}"
        )


def test_localhost_resolves_to_the_loopback(host, machine):
    # As on an installed system: clients that connect to "localhost" (Salt's own package
    # tests reach salt-api that way) find a daemon listening on 0.0.0.0 or 127.0.0.1.
    python = machine.spec.python.path
    if python is None:
        pytest.skip(f"{machine.spec.name} has no system Python to resolve a name with")
    code = "import socket; print(socket.gethostbyname('localhost'))"
    found = host.run(f'{python} -c "{code}"')
    assert found.rc == 0 and found.stdout.strip() == "127.0.0.1", (
        f"localhost does not resolve on {machine.spec.name}: {found.stdout}{found.stderr}"
    )


def test_the_host_reaches_the_box_as_root_by_key(machine):
    assert machine.run("id -u").stdout.strip() == "0"
    assert machine.run("exit 7", check=False).exit_status == 7
