"""The EL6 lifecycle lane without a box: centos6-rpm's catalog entry and platform (an rpm
database standing for EL6's base, SysV's service and chkconfig), EL's SysV and rc in its
Debian root (harness/providers/nspawn/sysv_debian.py), and the older Salt line of each
package set (catalog older_salt: 3005.1 for centos6) as the locks, lockgen and the lifecycle's
parametrization read it. That the lifecycle passes there is suites/test_lifecycle.py's."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from builds import lockgen, locks, rpm_targets
from harness import catalog, paths, platform
from harness.errors import CatalogError
from harness.paths import BOXES_DIR
from harness.platform import rpm
from harness.providers.nspawn import image, sysv_debian, sysv_root


def test_centos6_rpm_verifies_centos6s_rpms_with_rpm_and_sysv():
    box = catalog.load_box("centos6-rpm")
    assert (box.packages_box, box.package_format) == ("centos6", "rpm")
    assert box.providers.nspawn is not None and box.providers.nspawn.suite == "bookworm"
    assert box.providers.nspawn.system_python == "el6"
    centos6 = catalog.load_box("centos6")
    assert box.conflicts == centos6.conflicts == catalog.load_box("centos6-abi").conflicts
    assert box.python.bundled_version == centos6.python.bundled_version
    found = platform.of(box)
    assert isinstance(found.packages, rpm.RpmOnly) and found.services.kind == "sysv"
    assert not found.starts_on_install  # chkconfig --add leaves the "-" runlevels off
    assert found.packages.installed(["salt"]).startswith("rpm -q ")
    assert found.services.enable("salt-minion").startswith("chkconfig --add salt-minion")
    assert image.sysv_helpers(box) and not image.sysv_helpers(catalog.load_box("centos7-rpm"))


def required(target: str, salt: str) -> set[str]:
    """Every requirement the spec writes for the target's packages (their own aside)."""
    spec = rpm_targets.evaluate(target, salt)
    tags = ("Requires", "Requires(post)", "Requires(preun)", "Requires(postun)")
    wanted = {r.split()[0] for p in spec.packages.values() for tag in tags for r in p.tag(tag)}
    return {r for r in wanted if not r.startswith("salt")}


@pytest.mark.parametrize(
    "box, target, salt", [("centos6-rpm", "6", "3005.5"), ("centos7-rpm", "7", None)]
)
def test_the_rpm_box_base_provides_what_the_releases_rpms_require_and_no_more(box, target, salt):
    db = platform.of(catalog.load_box(box)).packages
    assert isinstance(db, rpm.RpmOnly)
    assert db.base.release == target
    # /bin/sh: the scriptlets' interpreter, which rpm requires of every package that has one
    assert set(db.base.provides) == required(target, salt or locks.DEFAULT_SALT) | {"/bin/sh"}
    assert f"rpm -q el{target}-base " in db.install(["/x.rpm"])


def test_the_el7_base_keeps_its_preset_policy_and_the_el6_base_has_none():
    el7, el6 = rpm.BASES["systemd"], rpm.BASES["sysv"]
    assert el7.files == ((rpm.PRESET, "disable *"),) and "systemd" in el7.provides
    assert f"echo 'disable *' > %{{buildroot}}{rpm.PRESET}" in el7.spec()
    assert el6.files == () and el6.spec().endswith("%files\n")
    assert {"/sbin/chkconfig", "/sbin/service"} <= set(el6.provides)


def test_rpm_installs_upgrades_and_downgrades_with_no_resolver_and_no_nodeps():
    db = platform.of(catalog.load_box("centos6-rpm")).packages
    install, downgrade = db.install(["/p/a b.rpm"]), db.downgrade(["/p/a.rpm"])
    assert install.endswith("&& rpm --force-debian -U --replacepkgs '/p/a b.rpm'")
    assert db.install_unattended(["/p/a b.rpm"]) == install
    assert downgrade.endswith("&& rpm --force-debian -U --replacepkgs --oldpackage /p/a.rpm")
    assert "--nodeps" not in install + downgrade
    assert db.remove(["salt", "salt-minion"]) == "rpm --force-debian -e salt salt-minion"


def test_a_self_upgrade_runs_apart_from_the_minion_as_its_init_system_stops_it():
    # systemd ends a unit's cgroup; our SysV scripts end the daemon's session
    el6 = platform.of(catalog.load_box("centos6-rpm")).packages
    function, [command] = el6.self_upgrade([("salt", "/p/salt.rpm")])
    assert function == "cmd.run_bg" and command.startswith("setsid sh -c ")
    assert "/p/salt.rpm" in command
    el7 = platform.of(catalog.load_box("centos7-rpm")).packages
    _, [command] = el7.self_upgrade([("salt", "/p/salt.rpm")])
    assert command.startswith("systemd-run --scope --quiet sh -c ")


def test_sysv_waits_for_a_systemd_pid_1_to_finish_booting_and_for_nothing_else(tmp_path):
    booted = platform.of(catalog.load_box("centos6-rpm")).services.booted()
    assert booted is not None and "systemctl is-system-running --wait" in booted
    # no systemd: the command returns at once, successfully
    done = subprocess.run(["sh", "-c", booted.replace("/run/", f"{tmp_path}/run/")])
    assert done.returncode == 0


def test_salts_service_module_is_asked_only_where_it_drives_the_boxs_init_system():
    def module(name: str) -> str:
        try:
            return platform.of(catalog.load_box(name)).services.salt_service_module()
        except platform.Unsupported as e:
            return f"unsupported: {e}"

    assert module("centos6") == "rh_service"
    assert module("centos7-rpm") == module("debian12") == "systemd_service"
    # Salt sees a Debian under systemd there, whatever runs our daemons
    assert module("centos6-rpm").startswith("unsupported: centos6-rpm: Salt's service module")
    assert module("centos6-abi") == "unsupported: centos6-abi: Salt knows no distribution here"


def debian_root(root: Path) -> Path:
    """What mmdebstrap leaves of SysV in a bookworm root: init.d scripts, rcN.d links and
    init-system-helpers' service."""
    (root / "etc/init.d").mkdir(parents=True)
    (root / "etc/init.d/ssh").write_text("#!/bin/sh\n")
    for level in "0123456S":
        (root / f"etc/rc{level}.d").mkdir()
    (root / "etc/rc3.d/S01ssh").symlink_to("../init.d/ssh")
    (root / "usr/sbin").mkdir(parents=True)
    (root / "usr/sbin/service").write_text("#!/bin/sh\n# Debian's\n")
    (root / "etc/nsswitch.conf").write_text("passwd: files\nhosts:  files dns\nnetworks: files\n")
    return root


def test_el_sysv_goes_into_a_debian_root_in_els_layout(tmp_path):
    root = debian_root(tmp_path / "root")
    sysv_debian.install(root)
    assert (root / "etc/init.d").readlink() == Path("rc.d/init.d")
    assert (root / "etc/rc3.d").readlink() == Path("rc.d/rc3.d")
    assert (root / "etc/rc.d/init.d/ssh").is_file()  # Debian's scripts move
    assert list((root / "etc/rc.d/rc3.d").iterdir()) == []  # their links go
    assert (root / "etc/rcS.d").is_dir()
    for path, (mode, text) in {**sysv_root.files(), **sysv_debian.FILES}.items():
        assert (root / path).read_text() == text and (root / path).stat().st_mode & 0o777 == mode
    generator = root / "etc/systemd/system-generators/systemd-sysv-generator"
    assert generator.readlink() == Path("/dev/null")
    wants = root / "etc/systemd/system/multi-user.target.wants/svh-rc.service"
    assert wants.resolve() == (root / "etc/systemd/system/svh-rc.service").resolve()
    assert "ExecStart=/etc/rc.d/rc 3\n" in sysv_debian.RC_UNIT
    # no DNS is reachable: names come from /etc/hosts alone, localhost among them
    nsswitch = (root / "etc/nsswitch.conf").read_text().splitlines()
    assert [line for line in nsswitch if line.startswith("hosts:")] == ["hosts:          files"]
    assert "passwd: files" in nsswitch and "networks: files" in nsswitch
    assert "127.0.0.1   localhost" in (root / "etc/hosts").read_text()


def test_els_rc_stops_the_running_k_scripts_then_starts_the_s_scripts(tmp_path):
    rc_d, locks_dir, log = tmp_path / "rc.d", tmp_path / "subsys", tmp_path / "log"
    locks_dir.mkdir()
    (rc_d / "rc3.d").mkdir(parents=True)
    for name in ("K01running", "K01stopped", "S99enabled"):
        script = rc_d / "rc3.d" / name
        script.write_text(f'#!/bin/sh\necho "{name} $1" >> {log}\n')
        script.chmod(0o755)
    (locks_dir / "running").touch()
    text = sysv_debian.RC.replace("/etc/rc.d", str(rc_d)).replace(
        "/var/lock/subsys", str(locks_dir)
    )
    done = subprocess.run(["sh", "-c", text, "rc", "3"], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert log.read_text().splitlines() == ["K01running stop", "S99enabled start"]


def test_centos6s_packages_are_upgraded_from_3005_1_and_the_others_from_the_default_lines():
    assert locks.older_lines("centos6") == ("3005.1",)
    for name in ("debian11", "debian12", "debian13", "centos7"):
        assert locks.older_lines(name) == locks.OLDER_LINES == ("3007.16", "3006.29")
    assert catalog.load_box("centos6-rpm").older_salt is None  # centos6's are its


def test_older_salt_is_checked_and_belongs_to_the_box_that_builds_the_packages(tmp_path):
    base = (BOXES_DIR / "debian12.toml").read_text()
    path = tmp_path / "debian12.toml"
    path.write_text('older_salt = ["3007"]\n' + base)  # a top-level key: before the tables
    with pytest.raises(CatalogError, match=r"field 'older_salt\.0'"):
        catalog.load_box_file(path)
    path.write_text('older_salt = []\npackages_of = "debian11"\n' + base)
    with pytest.raises(CatalogError, match="older_salt: a box verifying debian11's"):
        catalog.load_box_file(path)
    path.write_text('older_salt = ["3006.29"]\n' + base)
    assert catalog.load_box_file(path).older_salt == ["3006.29"]


def test_every_older_line_of_the_catalog_is_locked_on_the_python_its_box_bundles():
    lines = locks.shipped_lines()
    assert lines[:3] == [locks.DEFAULT_SALT, *locks.OLDER_LINES] and "3005.1" in lines
    assert lockgen.targets(["3005.1"], None) == [("3005.1", "3.9")]
    pairs = lockgen.targets(None, None)
    for line in (locks.DEFAULT_SALT, *locks.OLDER_LINES):
        assert {(line, "3.11"), (line, "3.13")} <= set(pairs)
    for box in catalog.load_catalog().values():
        minor = str(box.python.bundled_version)
        for line in box.older_salt or []:
            assert (line, minor) in pairs
            assert locks.salt_lock(line, minor).is_file()


def test_the_3005_1_lock_holds_what_salt_tested_it_with():
    pins = {
        p.key: p.version for p in locks.parse_lock(locks.salt_lock("3005.1", "3.9").read_text())
    }
    assert pins.pop("salt") == "3005.1"
    tested = dict(line.split("==") for line in lockgen.SALT_TESTED_WITH["3005.1"])
    assert pins == {locks.canonical(k): v for k, v in tested.items()}


def lifecycle_ids(*options: str) -> set[str]:
    argv = ["--collect-only", "-q", "-p", "no:cacheprovider", "suites/test_lifecycle.py"]
    collected = subprocess.run(
        [sys.executable, "-m", "pytest", *argv, *options],
        capture_output=True,
        text=True,
        cwd=paths.REPO_ROOT,
    )
    assert collected.returncode == 0, collected.stdout[-2000:]
    lines = [line for line in collected.stdout.splitlines() if "::" in line]
    return {line.partition("[")[2].rstrip("]") for line in lines}


def test_the_lifecycle_pairs_each_box_with_its_own_packages_older_lines():
    assert lifecycle_ids("--box", "centos6-rpm") == {"centos6-rpm-from-3005.1"}
    both = lifecycle_ids("--box", "debian12,centos6-rpm")
    assert both == {"centos6-rpm-from-3005.1"} | {f"debian12-from-{v}" for v in locks.OLDER_LINES}
    assert lifecycle_ids("--box", "centos6-rpm", "--older-salt", "3005.5") == {
        "centos6-rpm-from-3005.5"
    }
