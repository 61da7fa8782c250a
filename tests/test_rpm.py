"""The RPM recipe, for real: salt.spec evaluated with each EL target's macros, and RPMs
built by rpmbuild on a debian12 build box from a payload staged there, then read back
with rpm -qp and rpmlint on the host."""

from __future__ import annotations

import base64
import hashlib
import os
import shlex
import subprocess
import sys
from pathlib import Path

import pytest
from build_helpers import rpmlint_errors

from builds import layout, rpm_targets
from builds.layout import SUBPACKAGES as LAYOUT
from builds.rpm import RPM_DIR
from harness import catalog, platform
from harness.platform.sysv import Sysv

DAEMONS = ["minion", "master", "syndic", "api"]
SUBPACKAGES = [p.name for p in LAYOUT]
SALT = "3008.4"


def rpm_q(*args) -> str:
    return subprocess.run(["rpm", "-qp", *args], check=True, capture_output=True, text=True).stdout


# ---- EL targets: the spec's macros, evaluated without EL boxes -------------------------

EL_BOXES = rpm_targets.el_boxes()


@pytest.mark.parametrize("el_box", EL_BOXES, ids=[b.name for b in EL_BOXES])
def test_spec_fits_each_el_target(el_box):
    spec = rpm_targets.evaluate_box(el_box)
    services = platform.of(el_box).services
    assert rpm_targets.check(spec, services) == []
    assert sorted(spec.packages) == sorted(SUBPACKAGES)


def test_el_targets_differ_as_intended():
    el5, el6, el7 = (rpm_targets.evaluate(r) for r in ("5", "6", "7"))
    for sysv in (el5, el6):
        assert (
            sysv.script("salt-minion", "%post").strip() == "/sbin/chkconfig --add salt-minion || :"
        )
        assert "/sbin/service" in sysv.packages["salt-minion"].tag("Requires(postun)")
    assert "systemctl --no-reload preset salt-minion.service" in el7.script("salt-minion", "%post")
    assert "systemd" in el7.packages["salt-minion"].tag("Requires(post)")
    assert el7.packages["salt"].tag("Requires")[:2] == ["glibc", "libstdc++"]
    assert [n.rsplit(".", 1)[1] for n in el7.nvrs] == ["el7"] * len(SUBPACKAGES)


def test_a_portable_el6_payload_is_packed_as_it_is_with_sysv_scripts():
    el6 = rpm_targets.evaluate("6", "3005.5")
    main = el6.packages["salt"]
    assert main.tag("AutoReqProv") == []
    assert main.tag("Requires")[:2] == ["glibc", "libstdc++"]
    assert "ncurses-libs" not in main.tag("Requires")
    assert el6.script("salt-minion", "%post").strip() == "/sbin/chkconfig --add salt-minion || :"
    assert "/etc/rc.d/init.d/salt-minion" in el6.packages["salt-minion"].files
    assert el6.nvrs[0] == "salt-3005.5-1.el6"


def test_the_target_check_catches_a_spec_that_does_not_fit():
    el7 = rpm_targets.evaluate("7")
    problems = rpm_targets.check(el7, Sysv(catalog.load_box("centos6")))
    assert "salt-minion: no 'chkconfig --add salt-minion' (sysv)" in problems
    assert "salt-master: 'systemctl' on a sysv target" in problems


def test_parse_spec_splits_packages_scriptlets_and_files():
    text = (
        "Name: salt\nRequires: a, b\n%package minion\nRequires: salt = 1-1\n"
        "%description minion\nx\n%post minion\necho hi\n"
        "%files\n%defattr(-,root,root,-)\n/opt/salt\n"
        "%files -n other\n/usr/bin/other\n"
    )
    packages = rpm_targets.parse_spec(text)
    assert packages["salt"].tag("Requires") == ["a", "b"]
    assert packages["salt-minion"].tag("requires") == ["salt = 1-1"]
    assert packages["salt-minion"].scripts == {"%post": "echo hi\n"}
    assert packages["salt"].files == ["/opt/salt"]
    assert packages["other"].files == ["/usr/bin/other"]


@pytest.mark.parametrize("daemon", DAEMONS)
def test_sysv_init_scripts_are_valid_sh(tmp_path, daemon):
    """The EL5/6 init template as the spec writes it out (the same sed), checked by sh -n."""
    script = tmp_path / f"salt-{daemon}"
    text = (RPM_DIR / "salt-daemon.init").read_text()
    script.write_text(text.replace("@DAEMON@", f"salt-{daemon}").replace("@SUMMARY@", "Salt"))
    assert "@" not in script.read_text()  # every placeholder filled
    for shell in ("sh", "bash"):
        subprocess.run([shell, "-n", str(script)], check=True)
    header = script.read_text()
    assert "# chkconfig:" in header and f"# Provides:          salt-{daemon}" in header


def test_a_defect_variant_as_rpm_is_one_line_and_starts_nothing():
    from builds.build import output_dir

    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "signoff.cli",
            "build",
            "debian12",
            "--format",
            "rpm",
            "--defect",
            "conffile",
        ],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode == 1
    assert proc.stderr.strip().splitlines() == [
        "error: defect variants are built as DEBs only (--defect conffile): drop --format rpm, "
        "or build the defect without it"
    ]
    assert not output_dir("debian12", SALT, "conffile", foreign_format="rpm").exists()


# ---- RPMs really built on a debian12 build box -----------------------------------------
# `harness build debian12 --format rpm`'s output, reused while its inputs are unchanged
# (manifest inputs_digest). The EL lanes' own RPMs are tests/test_el7.py's and
# tests/test_old_el.py's.

pytestmark_build = pytest.mark.xdist_group("rpm-build")  # one build per run under loadgroup


def ensure_rpms() -> Path:
    from builds import manifest
    from builds.build import build_packages, current_digest, output_dir

    out = output_dir("debian12", SALT, foreign_format="rpm")
    if not manifest.is_current(out, current_digest("debian12", SALT, package_format="rpm")):
        build_packages("debian12", SALT, package_format="rpm")
    return out


@pytest.fixture(scope="module")
def native() -> dict[str, Path]:
    out = ensure_rpms()
    return {p["name"]: out / p["file"] for p in manifest_of(out)["packages"]}


def manifest_of(out: Path) -> dict:
    from builds import manifest

    m = manifest.read(out)
    assert m is not None, f"no readable manifest in {out}"
    return m


@pytest.fixture(scope="module")
def extracted(native, tmp_path_factory) -> Path:
    """The main RPM's payload, unpacked on the host with rpm2cpio."""
    dest = tmp_path_factory.mktemp("salt-rpm-root")
    subprocess.run(
        f"rpm2cpio {shlex.quote(str(native['salt']))} | cpio -idm --quiet",
        shell=True,
        check=True,
        cwd=dest,
    )
    return dest


def layout_files(name: str) -> set[str]:
    """What builds/layout.py puts in a package, outside /opt/salt, at RPM paths."""
    from builds import layout

    sub = layout.subpackage(name)
    files = {f"/usr/bin/{t}" for t in sub.tools} | {f"/etc/salt/{c}" for c in sub.configs}
    files |= {f"/usr/lib/systemd/system/{u}" for u in sub.units} | set(sub.dirs)
    if name == layout.COMMON:
        files |= {layout.LOGROTATE, layout.PREFIX}
    return files


@pytestmark_build
def test_every_subpackage_is_built(native):
    assert sorted(native) == sorted(SUBPACKAGES)
    assert native["salt"].name.endswith(".x86_64.rpm")
    assert native["salt-minion"].name.endswith(".noarch.rpm")
    assert manifest_of(native["salt"].parent)["package_format"] == "rpm"


@pytestmark_build
def test_no_bundled_library_is_required(native, extracted):
    shared_objects = list(extracted.glob("opt/salt/lib/python3.11/site-packages/**/*.so*"))
    assert shared_objects, "the payload has no .so files: the filter test would prove nothing"
    for name, path in native.items():
        requires = rpm_q("--requires", str(path)).splitlines()
        bad = [r for r in requires if ".so" in r or "libpython" in r or "python3.11dist" in r]
        assert not bad, f"{name} requires bundled files: {bad}"
    salt_requires = rpm_q("--requires", str(native["salt"])).splitlines()
    assert "/usr/bin/python3.11" in salt_requires  # the venv's interpreter, by path
    assert f"salt = {SALT}-1" in rpm_q("--requires", str(native["salt-minion"])).splitlines()


@pytestmark_build
def test_no_bundled_library_is_provided(native):
    for name, path in native.items():
        provides = rpm_q("--provides", str(path)).splitlines()
        bad = [p for p in provides if ".so" in p or "python3" in p]
        assert not bad, f"{name} provides bundled files: {bad}"


@pytestmark_build
def test_files_are_where_the_layout_puts_them(native):
    files = {name: set(rpm_q("-l", str(path)).splitlines()) for name, path in native.items()}
    venv = {f for f in files["salt"] if f.startswith("/opt/salt/")}
    assert "/opt/salt/bin/python3" in venv
    assert any(f.startswith("/opt/salt/lib/python3.11/site-packages/salt/") for f in venv)
    for name in SUBPACKAGES:
        assert files[name] - venv == layout_files(name), f"{name} differs from builds/layout.py"
    assert {"/var/log/salt", "/var/cache/salt", "/etc/logrotate.d/salt"} <= files["salt"]
    every = [f for fs in files.values() for f in fs]
    assert len(every) == len(set(every)), "a path is in two subpackages"


@pytestmark_build
def test_scriptlets_follow_the_service_policy(native):
    for daemon in DAEMONS:
        scripts = rpm_q("--scripts", str(native[f"salt-{daemon}"]))
        unit = f"salt-{daemon}.service"
        post, rest = scripts.split("preuninstall scriptlet")
        preun, rest = rest.split("postuninstall scriptlet")
        postun, posttrans = rest.split("posttrans scriptlet")
        assert f"systemctl --no-reload preset {unit}" in post
        assert f"disable {unit}" in preun and f"stop {unit}" in preun
        # an upgrade marks a running daemon and restarts it once the old files are gone
        assert f"is-active {unit}" in postun and "try-restart" not in postun
        assert f"try-restart {unit}" in posttrans
    for quiet in ("salt-cloud", "salt-ssh"):
        assert rpm_q("--scripts", str(native[quiet])).strip() == ""
    # The common package's two scripts: its last erase takes /opt/salt away whole; after
    # every transaction, salt-pip's extras of another Python minor are carried over.
    postun, posttrans = rpm_q("--scripts", str(native["salt"])).split("posttrans scriptlet")
    assert postun.startswith("postuninstall scriptlet")
    assert postun.strip().splitlines()[-1] == 'if [ "$1" -eq 0 ]; then rm -rf /opt/salt; fi'
    carry = f"/opt/salt/bin/python3 {layout.CARRY_EXTRAS} || :"
    assert posttrans.strip().splitlines()[-1] == carry


@pytestmark_build
def test_configuration_is_noreplace(native):
    from builds import layout

    for name, path in native.items():
        config = set(rpm_q("--configfiles", str(path)).splitlines())
        assert config == set(layout.conffiles(layout.subpackage(name))), name
    flags = rpm_q("--qf", "[%{FILENAMES} %{FILEFLAGS:fflags}\n]", str(native["salt-minion"]))
    assert "/etc/salt/minion cn" in flags.splitlines()  # c: config, n: noreplace


@pytestmark_build
def test_bundled_binaries_are_packed_untouched(extracted):
    """No strip, no debuginfo split: every ELF file matches the hash in its wheel's RECORD."""
    site = extracted / "opt/salt/lib/python3.11/site-packages"
    recorded = {}
    for record in site.glob("*.dist-info/RECORD"):
        for line in record.read_text().splitlines():
            path, digest, _ = line.rsplit(",", 2)
            if digest.startswith("sha256="):
                recorded[os.path.normpath(site / path)] = digest[len("sha256=") :]
    checked, changed = 0, []
    for so in site.rglob("*.so*"):
        if so.is_file() and so.read_bytes()[:4] == b"\x7fELF":
            raw = hashlib.sha256(so.read_bytes()).digest()
            ours = base64.urlsafe_b64encode(raw).rstrip(b"=").decode()
            checked += 1
            if recorded.get(str(so)) != ours:
                changed.append(str(so.relative_to(site)))
    assert checked > 10
    assert not changed, (
        f"{len(changed)} ELF files differ from their wheels' RECORD, e.g. {changed[:3]}"
    )


@pytestmark_build
def test_no_build_path_in_the_rpm(extracted):
    from builds.payload import WORK
    from builds.rpm import RPMBUILD_TOP

    for needle in (WORK, RPMBUILD_TOP, "BUILDROOT"):
        hits = subprocess.run(
            ["grep", "-rlF", needle, "."], cwd=extracted, capture_output=True, text=True
        )
        assert hits.stdout == "", f"{needle} found in: {hits.stdout.split()[:5]}"


@pytestmark_build
def test_rpmlint_finds_nothing_unexplained(native):
    errors = rpmlint_errors(native.values())
    assert errors == [], "rpmlint errors not explained in salt.rpmlintrc:\n" + "\n".join(errors)
