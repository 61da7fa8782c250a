"""The EL7 lane's packages, checked without CentOS: `harness build centos7` on a Debian build
box makes RPMs that EL7's rpm 4.11 can install (features, payload, requirements) and whose
every ELF needs at most glibc 2.17 and only the C runtime from the system. That they run
on glibc 2.17 is what the suites prove on centos7-abi."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import pytest
from build_helpers import ensure_built, read_manifest, rpmlint_errors, scan_the_common_rpm

from builds import abi_ceiling, layout
from builds.errors import BuildError
from harness import catalog

# Every rpmlib() feature EL7's rpm 4.11 knows; anything else makes it refuse the package.
RPM_411_FEATURES = {
    "rpmlib(BuiltinLuaScripts)",
    "rpmlib(CompressedFileNames)",
    "rpmlib(ConcurrentAccess)",
    "rpmlib(ExplicitPackageProvide)",
    "rpmlib(FileCaps)",
    "rpmlib(FileDigests)",
    "rpmlib(HeaderLoadSortsTags)",
    "rpmlib(PartialHardlinkSets)",
    "rpmlib(PayloadFilesHavePrefix)",
    "rpmlib(PayloadIsBzip2)",
    "rpmlib(PayloadIsLzma)",
    "rpmlib(PayloadIsXz)",
    "rpmlib(ScriptletExpansion)",
    "rpmlib(ScriptletInterpreterArgs)",
    "rpmlib(TildeInVersions)",
    "rpmlib(VersionedDependencies)",
}
# What an EL7 system provides that our packages may require.
EL7_REQUIRES = (
    r"^(/bin/sh|glibc|libstdc\+\+|logrotate|systemd|salt(-master)?|config\(salt[a-z-]*\))$"
)

pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("build")]


@pytest.fixture(scope="module")
def el7() -> tuple[Path, dict]:
    try:
        out = ensure_built("centos7")
    except BuildError as e:
        pytest.fail(f"harness build centos7 failed: {e}", pytrace=False)
    return out, read_manifest(out)


def rpm_query(package: Path, fmt: str) -> str:
    return subprocess.run(
        ["rpm", "-qp", "--qf", fmt, str(package)], capture_output=True, text=True, check=True
    ).stdout


def test_every_subpackage_is_an_el7_rpm(el7):
    out, m = el7
    assert m["box"] == "centos7" and m["package_format"] == "rpm"
    assert sorted(p["name"] for p in m["packages"]) == sorted(s.name for s in layout.SUBPACKAGES)
    for p in m["packages"]:
        assert p["file"].endswith(".rpm") and ".el7." in p["file"], p["file"]
        assert rpm_query(out / p["file"], "%{PAYLOADCOMPRESSOR}") == "xz", p["file"]


def test_rpm_411_can_read_and_satisfy_every_requirement(el7):
    out, m = el7
    for p in m["packages"]:
        requires = rpm_query(
            out / p["file"], "[%{REQUIRENAME} %{REQUIREFLAGS:depflags} %{REQUIREVERSION}\n]"
        )
        names = [line.split()[0] for line in requires.splitlines() if line.strip()]
        features = {n for n in names if n.startswith("rpmlib(")}
        assert features <= RPM_411_FEATURES, (p["file"], features - RPM_411_FEATURES)
        others = [n for n in names if not n.startswith("rpmlib(")]
        assert all(re.match(EL7_REQUIRES, n) for n in others), (p["file"], others)


def test_rpmlint_finds_nothing_unexplained(el7):
    out, m = el7
    errors = rpmlint_errors(out / p["file"] for p in m["packages"])
    assert errors == [], "rpmlint errors not explained in salt.rpmlintrc:\n" + "\n".join(errors)


def test_the_bundled_interpreter_and_versions_are_recorded(el7):
    _, m = el7
    box = catalog.load_box("centos7")
    assert m["bundled_interpreter"] and m["python_version"].startswith(box.python.bundled_version)
    assert {"salt", "pyzmq", "cryptography", "pycryptodomex", "tornado"} <= set(m["bundled"])


def test_every_elf_needs_at_most_glibc_217_and_only_the_c_runtime(el7, tmp_path):
    out, m = el7
    report = scan_the_common_rpm(out, m, tmp_path, "2.17")
    assert report.files > 60, report.summary()
    assert abi_ceiling.parse_version(report.max_glibc or "0") <= abi_ceiling.parse_version("2.17")
    # Nothing but the C runtime comes from the system: OpenSSL, SQLite, libffi, ... ship.
    shipped = {p.name for p in (tmp_path / "opt/salt/lib").glob("lib*.so*")}
    for lib in ("libssl", "libcrypto", "libsqlite3", "libffi", "libz", "libzmq", "libpython3"):
        assert any(name.startswith(lib) for name in shipped), lib
