"""The EL6 lane's packages, checked without CentOS: `harness build centos6` makes RPMs of Salt
3005.5 on a CPython 3.9 of their own, every ELF within glibc 2.12, EL6's gcc 4.4 runtime and
kernel 2.6.32, with SysV init scripts.

A cold build compiles CPython and its C libraries with zig cc (7 to 8 minutes on two idle
cores), so this module checks the packages when they are built and current, and says how
to build them otherwise."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import pytest
from build_helpers import read_manifest, scan_the_common_rpm
from test_el7 import RPM_411_FEATURES, rpm_query

from builds import abi_ceiling, layout, manifest, rpm
from builds.build import current_digest, output_dir
from harness import catalog

# What an EL6 system provides that our packages may require (SysV: chkconfig, service).
EL6_REQUIRES = (
    r"^(/bin/sh|/bin/bash|glibc|libstdc\+\+|logrotate|chkconfig|initscripts|/sbin/service|"
    r"/sbin/chkconfig|salt(-master)?|config\(salt[a-z-]*\))$"
)
pytestmark = pytest.mark.xdist_group("build")


@pytest.fixture(scope="module")
def el6() -> tuple[Path, dict]:
    out = output_dir("centos6")
    if not manifest.is_current(out, current_digest("centos6")):
        pytest.skip(
            "centos6's packages are not built from the current recipe: harness build centos6 "
            "(7 to 8 minutes cold: CPython and its libraries compiled with zig cc)"
        )
    return out, read_manifest(out)


def test_every_subpackage_is_an_el6_rpm_of_its_line(el6):
    _, m = el6
    box = catalog.load_box("centos6")
    assert m["box"] == "centos6" and m["salt_version"] == box.salt == "3005.5"
    assert sorted(p["name"] for p in m["packages"]) == sorted(s.name for s in layout.SUBPACKAGES)
    for p in m["packages"]:
        assert re.search(r"-3005\.5-1\.el6\.(x86_64|noarch)\.rpm$", p["file"]), p["file"]


def test_rpm_can_read_and_el6_satisfies_every_requirement(el6):
    out, m = el6
    for p in m["packages"]:
        requires = rpm_query(out / p["file"], "[%{REQUIRENAME}\n]").split()
        assert {n for n in requires if n.startswith("rpmlib(")} <= RPM_411_FEATURES, p["file"]
        others = [n for n in requires if not n.startswith("rpmlib(")]
        assert all(re.match(EL6_REQUIRES, n) for n in others), (p["file"], others)


def test_daemons_come_with_sysv_scripts_not_units(el6):
    out, m = el6
    for daemon in layout.DAEMONS:
        package = next(p["file"] for p in m["packages"] if p["name"] == daemon)
        files = rpm_query(out / package, "[%{FILENAMES}\n]").split()
        assert f"/etc/rc.d/init.d/{daemon}" in files, (daemon, files)
        assert not [f for f in files if "systemd" in f], files
        post = rpm_query(out / package, "%{POSTIN}")
        assert f"/sbin/chkconfig --add {daemon}" in post, post


def test_every_elf_within_glibc_212_and_el6_s_kernel(el6, tmp_path):
    out, m = el6
    report = scan_the_common_rpm(out, m, tmp_path, "2.12")
    assert report.files > 40, report.summary()
    kernels = {e.kernel for e in report.elf_files if e.kernel}
    assert all(abi_ceiling.parse_version(k) <= (2, 6, 32) for k in kernels), kernels
    shipped = {p.name for p in (tmp_path / "opt/salt/lib").glob("lib*.so*")}
    for lib in ("libssl.so.1.1", "libcrypto.so.1.1", "libsqlite3", "libffi", "libpython3.9"):
        assert any(name.startswith(lib) for name in shipped), lib


def test_salt_3005_runs_on_the_bundled_cpython_3_9(el6, tmp_path):
    out, m = el6
    assert m["bundled_interpreter"] and m["python_version"] == "3.9.2"
    assert {"salt", "pyzmq", "pycryptodomex", "msgpack", "pyyaml"} <= set(m["bundled"])
    assert "cryptography" not in m["bundled"] and "tornado" not in m["bundled"]
    common = next(p["file"] for p in m["packages"] if p["name"] == layout.COMMON)
    rpm.unpack(out / common, tmp_path)
    # Run where it was unpacked ($ORIGIN rpaths; PYTHONHOME for the stdlib, which the
    # interpreter looks for under /opt/salt): the host's newer glibc runs what was linked
    # for 2.12.
    home = tmp_path / "opt/salt"
    code = "import salt.version, zmq, Cryptodome, yaml, ssl; print(salt.version.__version__)"
    done = subprocess.run(
        [str(home / "bin/python3.9"), "-c", code],
        capture_output=True,
        text=True,
        env={"PYTHONHOME": str(home), "PATH": "/usr/bin:/bin"},
    )
    assert done.returncode == 0 and done.stdout.strip() == "3005.5", done.stderr
