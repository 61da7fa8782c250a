"""The RPM recipe, for real: salt.spec evaluated with each EL target's macros, and RPMs
built by rpmbuild on a debian12 build box from a payload staged there, then read back
with rpm -qp and rpmlint on the host."""

from __future__ import annotations

import os
import shlex
import subprocess
from dataclasses import dataclass
from pathlib import Path

import pytest

from builds import rpm_targets
from builds.rpm import RPM_DIR, RPMLINTRC, SUBPACKAGES, build_rpms, package_name

DAEMONS = ["minion", "master", "syndic", "api"]
SALT = "3008.4"


def rpm_q(*args) -> str:
    return subprocess.run(["rpm", "-qp", *args], check=True, capture_output=True, text=True).stdout


# ---- EL targets: the spec's macros, evaluated without EL boxes -------------------------

EL_BOXES = rpm_targets.el_boxes()


@pytest.mark.parametrize("el_box", EL_BOXES, ids=[b.name for b in EL_BOXES])
def test_spec_fits_each_el_target(el_box):
    spec = rpm_targets.evaluate(el_box.release)
    assert rpm_targets.check(spec, el_box.init, el_box.python.bundled_version) == []
    assert sorted(spec.packages) == sorted(SUBPACKAGES)


def test_el_targets_differ_as_intended():
    el5, el6, el7 = (rpm_targets.evaluate(r) for r in ("5", "6", "7"))
    for sysv in (el5, el6):
        assert sysv.script("salt-minion", "%post").strip() == "/sbin/chkconfig --add salt-minion || :"
        assert "Python-2.7.18.tgz" in " ".join(sysv.packages["salt"].tag("Source10"))
        assert "/sbin/service" in sysv.packages["salt-minion"].tag("Requires(postun)")
    assert "ncurses" in el5.packages["salt"].tag("Requires")
    assert "ncurses-libs" in el6.packages["salt"].tag("Requires")
    assert "systemctl --no-reload preset salt-minion.service" in el7.script("salt-minion", "%post")
    assert "systemd" in el7.packages["salt-minion"].tag("Requires(post)")
    assert el7.packages["salt"].tag("Source10") == []
    assert "openssl11-libs" in el7.packages["salt"].tag("Requires")
    assert [n.rsplit(".", 1)[1] for n in el7.nvrs] == ["el7"] * len(SUBPACKAGES)


def test_the_target_check_catches_a_spec_that_does_not_fit():
    el7 = rpm_targets.evaluate("7")
    problems = rpm_targets.check(el7, "sysv", "2.7")
    assert "salt-minion: no 'chkconfig --add salt-minion' (sysv)" in problems
    assert "no Python 2.7 source for the bundled interpreter" in problems
    assert "salt-master: 'systemctl' on a sysv target" in problems


def test_parse_spec_splits_packages_scriptlets_and_files():
    text = ("Name: salt\nRequires: a, b\n%package minion\nRequires: salt = 1-1\n"
            "%description minion\nx\n%post minion\necho hi\n%files\n%defattr(-,root,root,-)\n/opt/salt\n"
            "%files -n other\n/usr/bin/other\n")
    packages = rpm_targets.parse_spec(text)
    assert packages["salt"].tag("Requires") == ["a", "b"]
    assert packages["salt-minion"].tag("requires") == ["salt = 1-1"]
    assert packages["salt-minion"].scripts == {"%post": "echo hi\n"}
    assert packages["salt"].files == ["/opt/salt"]
    assert packages["other"].files == ["/usr/bin/other"]


def test_rpm_file_names_parse():
    assert package_name("salt-minion-3008.4-1.noarch.rpm", SALT) == "salt-minion"
    assert package_name("salt-3008.4-1.el7.x86_64.rpm", SALT) == "salt"
    with pytest.raises(ValueError):
        package_name("salt-minion-3007.16-1.noarch.rpm", SALT)


@pytest.mark.parametrize("daemon", DAEMONS)
def test_sysv_init_scripts_are_valid_sh(tmp_path, daemon):
    """The EL5/6 init template as the spec writes it out (the same sed), checked by sh -n."""
    script = tmp_path / f"salt-{daemon}"
    text = (RPM_DIR / "salt-daemon.init").read_text()
    script.write_text(text.replace("@DAEMON@", f"salt-{daemon}").replace("@SUMMARY@", "Salt"))
    assert "@" not in script.read_text().split("### END INIT INFO")[0].replace("$local_fs", "")
    for shell in ("sh", "bash"):
        subprocess.run([shell, "-n", str(script)], check=True)
    header = script.read_text()
    assert "# chkconfig:" in header and f"# Provides:          salt-{daemon}" in header


# ---- RPMs really built on a debian12 build box -----------------------------------------

@dataclass
class Built:
    native: dict[str, Path]      # subpackage -> RPM built with the build box's own macros
    el7: dict[str, Path]         # the same payload with EL7's macros
    staging_root: str
    elf_sums: dict[str, str]     # /opt/salt/... -> sha256 of the staged ELF files
    log: Path


def stage_payload(machine, log: Path):
    try:
        from builds.payload import stage
    except ImportError:
        pytest.skip("builds.payload (the build core's staging step) is not in this tree")
    from harness import catalog
    return stage(machine, catalog.load_box("debian12"), SALT, None, log)


@pytest.fixture(scope="module")
def built(tmp_path_factory) -> Built:
    from harness.session import box_instance
    from builds.rpm_targets import target_macros
    out = tmp_path_factory.mktemp("rpm")
    log = out / "build.log"
    with box_instance("debian12", name=f"rpm-debian12-{os.getpid()}") as machine:
        staged = stage_payload(machine, log)
        root = str(staged.root).rstrip("/")
        sums = machine.run(
            f"cd {shlex.quote(root)} && find opt/salt -type f -name '*.so*' -exec sha256sum {{}} +").stdout
        native = build_rpms(machine, staged, "debian12", SALT, out / "debian12-rpm", log)
        el7 = build_rpms(machine, staged, "debian12", SALT, out / "el7-rpm", log,
                         extra_defines=target_macros("7"))
    by_name = lambda build: {package_name(p.name, SALT): p for p in build.rpms}
    elf_sums = {"/" + line.split(None, 1)[1]: line.split()[0] for line in sums.splitlines()}
    return Built(by_name(native), by_name(el7), root, elf_sums, log)


@pytest.fixture(scope="module")
def extracted(built, tmp_path_factory) -> Path:
    """The main RPM's payload, unpacked on the host with rpm2cpio."""
    dest = tmp_path_factory.mktemp("salt-rpm-root")
    subprocess.run(f"rpm2cpio {shlex.quote(str(built.native['salt']))} | cpio -idm --quiet",
                   shell=True, check=True, cwd=dest)
    return dest


def test_every_subpackage_is_built(built):
    assert sorted(built.native) == sorted(SUBPACKAGES)
    assert sorted(built.el7) == sorted(SUBPACKAGES)
    assert built.native["salt"].name.endswith(".x86_64.rpm")
    assert built.native["salt-minion"].name.endswith(".noarch.rpm")


def test_no_bundled_library_is_required(built):
    assert built.elf_sums, "the staged payload has no .so files: the filter test would prove nothing"
    for name, path in built.native.items():
        requires = rpm_q("--requires", str(path)).splitlines()
        bad = [r for r in requires if ".so" in r or "libpython" in r or "python3.11dist" in r]
        assert not bad, f"{name} requires bundled files: {bad}"
    assert f"salt = {SALT}-1" in rpm_q("--requires", str(built.native["salt-minion"])).splitlines()


def test_no_bundled_library_is_provided(built):
    for build in (built.native, built.el7):
        for name, path in build.items():
            provides = rpm_q("--provides", str(path)).splitlines()
            bad = [p for p in provides if ".so" in p or "python3" in p or "bundled" in p]
            assert not bad, f"{name} provides bundled files: {bad}"


def test_files_are_where_they_belong(built):
    files = {name: set(rpm_q("-l", str(path)).split()) for name, path in built.native.items()}
    main = files["salt"]
    assert {"/opt/salt", "/opt/salt/bin/python3", "/etc/salt", "/etc/logrotate.d/salt",
            "/var/log/salt", "/var/cache/salt"} <= main
    assert any(f.startswith("/opt/salt/lib/python3.11/site-packages/salt/") for f in main)
    for daemon in DAEMONS:
        assert {f"/usr/bin/salt-{daemon}", f"/usr/lib/systemd/system/salt-{daemon}.service"} \
            <= files[f"salt-{daemon}"]
    assert "/etc/salt/minion" in files["salt-minion"]
    assert "/etc/salt/master" in files["salt-master"]
    assert "/usr/bin/salt-cloud" in files["salt-cloud"]
    assert "/usr/bin/salt-ssh" in files["salt-ssh"]
    every = [f for fs in files.values() for f in fs]
    assert len(every) == len(set(every)), "a path is in two subpackages"
    outside = [f for f in every if not f.startswith(("/opt/salt", "/usr/bin/", "/etc/salt",
                                                     "/etc/logrotate.d/", "/usr/lib/systemd/system/",
                                                     "/var/log/salt", "/var/cache/salt"))]
    assert not outside, f"files outside the expected paths: {outside}"


def test_scriptlets_follow_the_service_policy(built):
    for daemon in DAEMONS:
        scripts = rpm_q("--scripts", str(built.native[f"salt-{daemon}"]))
        unit = f"salt-{daemon}.service"
        assert f"systemctl --no-reload preset {unit}" in scripts.split("preuninstall")[0]
        preun = scripts.split("preuninstall scriptlet")[1].split("postuninstall")[0]
        assert f"disable {unit}" in preun and f"stop {unit}" in preun
        assert f"try-restart {unit}" in scripts.split("postuninstall scriptlet")[1]
    assert rpm_q("--scripts", str(built.native["salt"])).strip() == ""


def test_configuration_is_noreplace(built):
    config = {name: rpm_q("--configfiles", str(path)).split() for name, path in built.native.items()}
    assert "/etc/salt/minion" in config["salt-minion"]
    assert "/etc/salt/master" in config["salt-master"]
    assert "/etc/logrotate.d/salt" in config["salt"]
    flags = rpm_q("--qf", "[%{FILENAMES} %{FILEFLAGS:fflags}\n]", str(built.native["salt-minion"]))
    assert "/etc/salt/minion cn" in flags.splitlines()  # c: config, n: noreplace


def test_bundled_binaries_are_packed_untouched(built, extracted):
    """No strip, no debuginfo split: every staged ELF file arrives byte for byte."""
    changed = []
    for path, staged_sum in built.elf_sums.items():
        got = subprocess.run(["sha256sum", str(extracted / path.lstrip("/"))],
                             capture_output=True, text=True, check=True).stdout.split()[0]
        if got != staged_sum:
            changed.append(path)
    assert not changed, f"{len(changed)} bundled ELF files changed by rpmbuild, e.g. {changed[:3]}"


def test_no_build_path_in_the_rpm(built, extracted):
    for needle in (built.staging_root, "/var/tmp/salt-rpmbuild", "BUILDROOT"):
        hits = subprocess.run(["grep", "-rlF", needle, "."], cwd=extracted, capture_output=True, text=True)
        assert hits.stdout == "", f"{needle} found in: {hits.stdout.split()[:5]}"


def test_rpmlint_finds_nothing_unexplained(built):
    proc = subprocess.run(["rpmlint", "-r", str(RPMLINTRC), *map(str, built.native.values())],
                          capture_output=True, text=True)
    errors = [l for l in proc.stdout.splitlines() if ": E: " in l]
    assert errors == [], "rpmlint errors not explained in salt.rpmlintrc:\n" + "\n".join(errors)


def test_el7_macros_build_the_el7_layout(built):
    assert {rpm_q("--qf", "%{RELEASE}", str(p)) for p in built.el7.values()} == {"1.el7"}
    requires = rpm_q("--requires", str(built.el7["salt"])).splitlines()
    assert "openssl11-libs" in requires and "glibc" in requires
    assert rpm_q("--qf", "%{PAYLOADCOMPRESSOR}", str(built.el7["salt"])) == "xz"
    assert "/usr/lib/systemd/system/salt-minion.service" in rpm_q("-l", str(built.el7["salt-minion"])).split()
    assert f"salt = {SALT}-1.el7" in rpm_q("--requires", str(built.el7["salt-minion"])).splitlines()
