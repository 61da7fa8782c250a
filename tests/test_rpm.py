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
import tempfile
from pathlib import Path

import pytest

from builds import layout, rpm_targets
from builds.layout import SUBPACKAGES as LAYOUT
from builds.rpm import PYTHON27, RPM_DIR, RPMLINTRC
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
    assert rpm_targets.check(spec, services, rpm_targets.spec_python(el_box)) == []
    assert sorted(spec.packages) == sorted(SUBPACKAGES)


def test_el_targets_differ_as_intended():
    el5, el6, el7 = (rpm_targets.evaluate(r) for r in ("5", "6", "7"))
    for sysv in (el5, el6):
        assert (
            sysv.script("salt-minion", "%post").strip() == "/sbin/chkconfig --add salt-minion || :"
        )
        assert f"Python-{PYTHON27}.tgz" in " ".join(sysv.packages["salt"].tag("Source10"))
        assert "/sbin/service" in sysv.packages["salt-minion"].tag("Requires(postun)")
    assert "ncurses" in el5.packages["salt"].tag("Requires")
    assert "ncurses-libs" in el6.packages["salt"].tag("Requires")
    assert "systemctl --no-reload preset salt-minion.service" in el7.script("salt-minion", "%post")
    assert "systemd" in el7.packages["salt-minion"].tag("Requires(post)")
    assert el7.packages["salt"].tag("Source10") == []
    assert "openssl11-libs" in el7.packages["salt"].tag("Requires")
    assert [n.rsplit(".", 1)[1] for n in el7.nvrs] == ["el7"] * len(SUBPACKAGES)


def test_a_portable_el6_payload_is_packed_as_it_is_with_sysv_scripts():
    el6 = rpm_targets.evaluate("6", "3005.5", portable=True)
    main = el6.packages["salt"]
    assert main.tag("Source10") == [] and main.tag("AutoReqProv") == []
    assert main.tag("Requires")[:2] == ["glibc", "libstdc++"]
    assert "ncurses-libs" not in main.tag("Requires")
    assert el6.script("salt-minion", "%post").strip() == "/sbin/chkconfig --add salt-minion || :"
    assert "/etc/rc.d/init.d/salt-minion" in el6.packages["salt-minion"].files
    assert el6.nvrs[0] == "salt-3005.5-1.el6"


def test_the_target_check_catches_a_spec_that_does_not_fit():
    el7 = rpm_targets.evaluate("7")
    problems = rpm_targets.check(el7, Sysv(catalog.load_box("centos6")), "2.7")
    assert "salt-minion: no 'chkconfig --add salt-minion' (sysv)" in problems
    assert "no Python 2.7 source for the bundled interpreter" in problems
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
# (manifest inputs_digest), and the same payload packed again with EL7's macros.

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
def el7(tmp_path_factory) -> dict[str, Path]:
    """The debian12 payload packed with EL7's macros (rhel 7, .el7, /usr/lib/systemd/system)."""
    from builds import rpm
    from builds.build import venv_of_the_good_build
    from builds.payload import stage
    from builds.remote import BoxRunner
    from harness import catalog
    from harness.session import box_instance

    out = tmp_path_factory.mktemp("el7-rpm")
    box = catalog.load_box("debian12")
    # The good build's venv, as the --format rpm build packs it: staged once per run.
    venv = venv_of_the_good_build(box, SALT)
    with box_instance("debian12", name=f"rpm-debian12-{os.getpid()}") as machine:
        runner = BoxRunner(machine, out / "build.log")
        staged = stage(machine, box, SALT, None, runner, venv)
        built = rpm.build(
            runner,
            staged,
            "/var/tmp/svh-build/out-el7",
            box,
            rpm.target_macros("7"),
        )
        for r in built:
            runner.fetch(f"/var/tmp/svh-build/out-el7/{r.file}", out / r.file, f"fetching {r.file}")
    return {r.name: out / r.file for r in built}


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


def rpmlint_errors(rpms) -> list[str]:
    proc = subprocess.run(
        ["rpmlint", "-r", str(RPMLINTRC), *map(str, rpms)], capture_output=True, text=True
    )
    assert " packages and 0 specfiles checked" in proc.stdout, (
        proc.stdout[-500:] + proc.stderr[-500:]
    )
    # One filter file serves every target: EL6's filters go unused on debian12's RPMs.
    return [
        line
        for line in proc.stdout.splitlines()
        if ": E: " in line and "unused-rpmlintrc-filter" not in line
    ]


@pytestmark_build
def test_rpmlint_finds_nothing_unexplained(native):
    errors = rpmlint_errors(native.values())
    assert errors == [], "rpmlint errors not explained in salt.rpmlintrc:\n" + "\n".join(errors)


@pytest.mark.slow
@pytestmark_build
def test_el7_macros_build_the_el7_layout(el7):
    assert sorted(el7) == sorted(SUBPACKAGES)
    assert {rpm_q("--qf", "%{RELEASE}", str(p)) for p in el7.values()} == {"1.el7"}
    requires = rpm_q("--requires", str(el7["salt"])).splitlines()
    assert {"openssl11-libs", "glibc", "logrotate"} <= set(requires)
    assert not [r for r in requires if ".so" in r]
    assert rpm_q("--qf", "%{PAYLOADCOMPRESSOR}", str(el7["salt"])) == "xz"
    assert (
        "/usr/lib/systemd/system/salt-minion.service"
        in rpm_q("-l", str(el7["salt-minion"])).split()
    )
    assert f"salt = {SALT}-1.el7" in rpm_q("--requires", str(el7["salt-minion"])).splitlines()
    assert "systemctl --no-reload preset salt-minion.service" in rpm_q(
        "--scripts", str(el7["salt-minion"])
    )


# ---- EL6's branch for real: Python 2.7 built by the spec -------------------------------
# On debian11 (its image has the -dev libraries CPython needs). The wheelhouse is a
# stand-in for a Salt 2019.2 lock for Python 2.7 (the project carries none): two pure
# wheels from the input cache, enough to prove the offline pip step and its shebangs.


def legacy_wheelhouse(dest: Path) -> Path:
    from builds.inputs import cache_root

    wheels = {}
    for dist in (cache_root() / "inputs").glob("*/dist"):
        for pattern in ("tzdata-*-py2.py3-none-any.whl", "looseversion-*-py2.py3-none-any.whl"):
            wheels.update({w.name.split("-")[0]: w for w in dist.glob(pattern)})
    if len(wheels) < 2:
        pytest.skip(
            "no tzdata/looseversion wheels in the input cache (harness build debian12 fills it)"
        )
    dest.mkdir()
    for w in wheels.values():
        (dest / w.name).write_bytes(w.read_bytes())
    (dest / "requirements.txt").write_text(
        "".join(f"{n}=={w.name.split('-')[1]}\n" for n, w in wheels.items())
    )
    return dest


@pytest.fixture(scope="module")
def el6(native, tmp_path_factory):
    """EL6 RPMs built on debian11 with EL6's macros, plus what the installed payload did."""
    from builds import payload, rpm
    from builds.remote import BoxRunner
    from harness.session import box_instance

    out = tmp_path_factory.mktemp("el6-rpm")
    log = out / "build.log"
    legacy = rpm.LegacySources(rpm.python27_source(log), legacy_wheelhouse(out / "wheels"))
    staged = payload.without_venv("debian11", "2019.2.8", rpm.PYTHON27)
    checks = {
        "python": "/opt/salt/bin/python2.7 -c 'import sys, zlib, bz2, ssl, sqlite3, ctypes, "
        'looseversion, tzdata; print(sys.version.split()[0] + " " + sys.prefix)\'',
        "runpath": "readelf -d /opt/salt/bin/python2.7 | grep -E 'R(UN)?PATH'",
        "libpython": "ldd /opt/salt/bin/python2.7 | grep libpython",
        "pip": "/opt/salt/bin/pip --version",
        "shebang": "head -n 1 /opt/salt/bin/pip",
        "init": (
            "sh -n /etc/rc.d/init.d/salt-minion && grep '^# chkconfig' /etc/rc.d/init.d/salt-minion"
        ),
        "ld.so.conf.d": "grep -rl /opt/salt /etc/ld.so.conf /etc/ld.so.conf.d || echo none",
    }
    with box_instance("debian11", name=f"rpm-debian11-{os.getpid()}") as machine:
        runner = BoxRunner(machine, log)
        with tempfile.TemporaryDirectory() as tmp:
            payload.files_tree(staged, Path(tmp))
            runner.copy_in(Path(tmp), staged.root, "copying the staged package trees in")
        remote_out = f"{payload.WORK}/out-el6"
        centos6 = catalog.load_box("centos6")
        built = rpm.build(runner, staged, remote_out, centos6, rpm.target_macros("6"), legacy)
        for r in built:
            runner.fetch(f"{remote_out}/{r.file}", out / r.file, f"fetching {r.file}")
        # Unpacked at / on the build box (not installed: Debian's rpm database is empty).
        runner.run(
            f"for f in {remote_out}/*.rpm; do rpm2archive - < $f | tar -xzf - -C /; done",
            "unpacking the EL6 RPMs at /",
        )
        results = {name: machine.run(cmd, check=False) for name, cmd in checks.items()}
    assert sorted(r.name for r in built) == sorted(SUBPACKAGES)
    return {r.name: out / r.file for r in built}, results


@pytest.mark.slow
@pytestmark_build
def test_el6_bundles_a_working_python27(el6):
    _, ran = el6
    assert ran["python"].stdout.split() == ["2.7.18", "/opt/salt"], ran["python"].stderr
    assert "$ORIGIN/../lib" in ran["runpath"].stdout
    found = ran["libpython"].stdout.split("=>")[1].split()[0]
    assert os.path.normpath(found) == "/opt/salt/lib/libpython2.7.so.1.0"  # via $ORIGIN
    assert ran["pip"].ok and "/opt/salt/lib/python2.7/site-packages/pip" in ran["pip"].stdout
    assert ran["shebang"].stdout.strip() == "#!/opt/salt/bin/python2.7"
    assert ran["init"].ok and "# chkconfig:   - 99 01" in ran["init"].stdout
    assert ran["ld.so.conf.d"].stdout.strip() == "none"


@pytest.mark.slow
@pytestmark_build
def test_el6_rpms_have_sysv_scripts_and_hand_written_requires(el6):
    rpms, _ = el6
    requires = set(rpm_q("--requires", str(rpms["salt"])).splitlines())
    assert {
        "/bin/sh",
        "glibc",
        "zlib",
        "bzip2-libs",
        "openssl",
        "readline",
        "sqlite",
        "ncurses-libs",
        "logrotate",
    } <= requires
    assert not [r for r in requires if ".so" in r or r.startswith("python")]
    assert "bundled(python) = 2.7.18" in rpm_q("--provides", str(rpms["salt"])).splitlines()
    for daemon in DAEMONS:
        pkg = rpms[f"salt-{daemon}"]
        files = rpm_q("-l", str(pkg)).splitlines()
        assert f"/etc/rc.d/init.d/salt-{daemon}" in files
        assert not [f for f in files if f.endswith(".service")]
        scripts = rpm_q("--scripts", str(pkg))
        assert f"/sbin/chkconfig --add salt-{daemon}" in scripts
        assert f"/sbin/service salt-{daemon} condrestart" in scripts
        assert "systemctl" not in scripts
    assert {rpm_q("--qf", "%{RELEASE}", str(p)) for p in rpms.values()} == {"1.el6"}


@pytest.mark.slow
@pytestmark_build
def test_rpmlint_finds_nothing_unexplained_in_the_el6_rpms(el6):
    rpms, _ = el6
    errors = rpmlint_errors(rpms.values())
    assert errors == [], "rpmlint errors not explained in salt.rpmlintrc:\n" + "\n".join(errors)
