"""The EL6 and EL5 lanes' packages, checked without CentOS: `harness build centos6` makes
RPMs of Salt 3005.5 on a CPython 3.9 of their own, every ELF within glibc 2.12 and kernel
2.6.32; `harness build centos5` RPMs of Salt 3000.9 on a CPython 2.7, within glibc 2.5 and
kernel 2.6.18. Both with SysV init scripts.

A cold build compiles CPython and its C libraries with zig cc (5 to 8 minutes on two idle
cores), so this module checks the packages when they are built and current, and says how
to build them otherwise."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path
from typing import NamedTuple

import pytest
from build_helpers import read_manifest, rpmlint_errors, scan_the_common_rpm
from test_el7 import RPM_411_FEATURES, rpm_query

from builds import abi_ceiling, layout, manifest, rpm
from builds.build import current_digest, output_dir
from harness import catalog

# What an EL6 or EL5 system provides that our packages may require (SysV: chkconfig, service).
OLD_EL_REQUIRES = (
    r"^(/bin/sh|/bin/bash|glibc|libstdc\+\+|logrotate|chkconfig|initscripts|/sbin/service|"
    r"/sbin/chkconfig|salt(-master)?|config\(salt[a-z-]*\))$"
)
pytestmark = pytest.mark.xdist_group("build")


class Lane(NamedTuple):
    box: str
    dist: str  # the RPMs' release tag
    salt: str
    python: str
    glibc: str
    kernel: tuple[int, ...]
    bundled: frozenset[str]  # distributions the payload must carry
    absent: frozenset[str]  # and must not
    imports: str  # what the bundled interpreter imports, unpacked on the host


LANES = {
    "centos6": Lane(
        "centos6",
        "el6",
        "3005.5",
        "3.9.2",
        "2.12",
        (2, 6, 32),
        frozenset({"salt", "pyzmq", "pycryptodomex", "msgpack", "pyyaml"}),
        frozenset({"cryptography", "tornado"}),  # 3005 needs none, vendors tornado
        "salt.version, zmq, Cryptodome, yaml, ssl",
    ),
    "centos5": Lane(
        "centos5",
        "el5",
        "3000.9",
        "2.7.18",
        "2.5",
        (2, 6, 18),
        frozenset({"salt", "pyzmq", "pycryptodomex", "pycrypto", "msgpack", "pyyaml", "psutil"}),
        frozenset({"cryptography", "tornado"}),
        "salt.version, zmq, Cryptodome, Crypto.Cipher.AES, yaml, psutil, ssl",
    ),
}


@pytest.fixture(scope="module", params=sorted(LANES))
def lane(request) -> tuple[Lane, Path, dict]:
    built = LANES[request.param]
    out = output_dir(built.box)
    if not manifest.is_current(out, current_digest(built.box)):
        pytest.skip(
            f"{built.box}'s packages are not built from the current recipe: harness build "
            f"{built.box} (5 to 8 minutes cold: CPython and its libraries compiled with zig cc)"
        )
    return built, out, read_manifest(out)


def test_every_subpackage_is_an_rpm_of_its_release_and_line(lane):
    built, _, m = lane
    box = catalog.load_box(built.box)
    assert m["box"] == built.box and m["salt_version"] == box.salt == built.salt
    assert sorted(p["name"] for p in m["packages"]) == sorted(s.name for s in layout.SUBPACKAGES)
    version = re.escape(built.salt)
    for p in m["packages"]:
        assert re.search(rf"-{version}-1\.{built.dist}\.(x86_64|noarch)\.rpm$", p["file"]), p


def test_rpm_can_read_and_the_release_satisfies_every_requirement(lane):
    _, out, m = lane
    for p in m["packages"]:
        requires = rpm_query(out / p["file"], "[%{REQUIRENAME}\n]").split()
        assert {n for n in requires if n.startswith("rpmlib(")} <= RPM_411_FEATURES, p["file"]
        others = [n for n in requires if not n.startswith("rpmlib(")]
        assert all(re.match(OLD_EL_REQUIRES, n) for n in others), (p["file"], others)


def test_rpmlint_finds_nothing_unexplained(lane):
    _, out, m = lane
    errors = rpmlint_errors(out / p["file"] for p in m["packages"])
    assert errors == [], "rpmlint errors not explained in salt.rpmlintrc:\n" + "\n".join(errors)


def test_daemons_come_with_sysv_scripts_not_units(lane):
    _, out, m = lane
    for daemon in layout.DAEMONS:
        package = next(p["file"] for p in m["packages"] if p["name"] == daemon)
        files = rpm_query(out / package, "[%{FILENAMES}\n]").split()
        assert f"/etc/rc.d/init.d/{daemon}" in files, (daemon, files)
        assert not [f for f in files if "systemd" in f], files
        post = rpm_query(out / package, "%{POSTIN}")
        assert f"/sbin/chkconfig --add {daemon}" in post, post
        preun = rpm_query(out / package, "%{PREUN}")
        assert f"/sbin/service {daemon} stop" in preun and f"chkconfig --del {daemon}" in preun
        # an upgrade marks a running daemon, restarted once the old files are gone
        postun = rpm_query(out / package, "%{POSTUN}")
        assert f"/sbin/service {daemon} status" in postun and "condrestart" not in postun
        posttrans = rpm_query(out / package, "%{POSTTRANS}")
        assert f"/sbin/service {daemon} condrestart" in posttrans, posttrans
        scripts = post + preun + postun + posttrans
        assert "systemctl" not in scripts, scripts


def test_every_elf_within_the_release_s_glibc_and_kernel(lane, tmp_path):
    built, out, m = lane
    report = scan_the_common_rpm(out, m, tmp_path, built.glibc)
    assert report.files > 40, report.summary()
    kernels = {e.kernel for e in report.elf_files if e.kernel}
    assert all(abi_ceiling.parse_version(k) <= built.kernel for k in kernels), kernels
    shipped = {p.name for p in (tmp_path / "opt/salt/lib").glob("lib*.so*")}
    series = built.python.rsplit(".", 1)[0]
    for lib in ("libssl.so.1.1", "libcrypto.so.1.1", "libsqlite3", "libffi", f"libpython{series}"):
        assert any(name.startswith(lib) for name in shipped), lib


def test_salt_runs_on_the_bundled_cpython(lane, tmp_path):
    built, out, m = lane
    assert m["bundled_interpreter"] and m["python_version"] == built.python
    assert built.bundled <= set(m["bundled"]) and not built.absent & set(m["bundled"])
    common = next(p["file"] for p in m["packages"] if p["name"] == layout.COMMON)
    rpm.unpack(out / common, tmp_path)
    # Run where it was unpacked ($ORIGIN rpaths; PYTHONHOME for the stdlib, which the
    # interpreter looks for under /opt/salt): the host's newer glibc runs what was linked
    # for the release's.
    home = tmp_path / "opt/salt"
    code = f"import {built.imports}; import salt.version; print(salt.version.__version__)"
    series = built.python.rsplit(".", 1)[0]
    done = subprocess.run(
        [str(home / f"bin/python{series}"), "-c", code],
        capture_output=True,
        text=True,
        env={"PYTHONHOME": str(home), "PATH": "/usr/bin:/bin"},
    )
    assert done.returncode == 0 and done.stdout.strip() == built.salt, done.stderr
