"""The build module for real: packages built in build boxes, their manifest, the older Salt
line, warm rebuilds without network, defect variants compared with the good packages file by
file, failing and interrupted builds. What the packages do once installed is checked by the
suites (suites/), on every box; the pure logic is in test_build_recipes.py.

Builds are reused while dist/<output>/manifest.json records the current inputs, so a run
with warm dist/ and caches only compares.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from build_helpers import ensure_built, extract_debs, read_manifest, tree_diff

from builds import defects, layout
from builds.build import log_path
from builds.errors import BuildError
from builds.locks import DEFAULT_SALT, parse_lock, salt_lock
from harness import catalog, paths, state

BOXES = ["debian11", "debian12", "debian13"]
# One worker runs every build: two package builds at once would fight over the 2 cores.
pytestmark = pytest.mark.xdist_group("build")
HARNESS = [sys.executable, "-m", "signoff.cli"]


# ---- real builds and installs -------------------------------------------------------------


@pytest.fixture(scope="module", params=BOXES)
def built(request):
    """The good packages of one release, built (or reused while current) into dist/."""
    try:
        out = ensure_built(request.param)
    except BuildError as e:
        pytest.fail(f"build of {request.param} failed: {e}", pytrace=False)
    return read_manifest(out), catalog.load_box(request.param)


@pytest.mark.slow
def test_manifest_describes_the_build(built):
    m, box = built
    assert {
        "box",
        "salt_version",
        "python_version",
        "bundled_interpreter",
        "defect",
        "package_format",
        "built_at",
        "packages",
        "bundled",
    } <= m.keys()
    assert (m["box"], m["salt_version"], m["defect"], m["package_format"]) == (
        box.name,
        DEFAULT_SALT,
        None,
        "deb",
    )
    assert m["bundled_interpreter"] == box.python.bundle_interpreter
    assert m["prerelease_order"] == [f"{DEFAULT_SALT}~rc1-1", f"{DEFAULT_SALT}-1"]
    expected_python = (
        box.python.bundled_version if box.python.bundle_interpreter else box.python.version
    )
    assert m["python_version"].startswith(expected_python)
    assert sorted(p["name"] for p in m["packages"]) == sorted(s.name for s in layout.SUBPACKAGES)
    pins = {
        p.key: p.version
        for p in parse_lock(salt_lock(DEFAULT_SALT, expected_python[:4]).read_text())
    }
    assert {
        k: v for k, v in m["bundled"].items() if k in pins
    } == pins  # every locked dist, at its version
    assert set(m["bundled"]) - set(pins) == {"pip"}


@pytest.mark.slow
def test_the_older_salt_line_builds_too():
    out = ensure_built("debian12", "3007.16")
    m = read_manifest(out)
    assert out.name == "debian12-salt-3007.16" and m["salt_version"] == "3007.16"
    assert m["bundled"]["salt"] == "3007.16"
    assert {p["version"] for p in m["packages"]} == {"3007.16-1"}


@pytest.mark.slow
def test_a_warm_rebuild_makes_no_network_request(tmp_path):
    """With the caches filled, a build must not need the index: pip and every HTTP proxy
    point at a closed port here, so any request would fail the build. (The mirror setting
    stays: it is part of the image's cache key.)"""
    ensure_built("debian12")  # fills the caches for the current inputs
    dead = "http://127.0.0.1:9"
    env = dict(
        os.environ,
        SVH_DIST_DIR=str(tmp_path / "dist"),
        PIP_CONFIG_FILE="/dev/null",
        PIP_INDEX_URL=f"{dead}/simple",
        PIP_FIND_LINKS="",
        http_proxy=dead,
        https_proxy=dead,
        HTTP_PROXY=dead,
        HTTPS_PROXY=dead,
        no_proxy="",
    )
    # The same settings do stop a fetch from the index.
    probe = subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "download",
            "--no-deps",
            "--retries",
            "0",
            "--timeout",
            "3",
            "-d",
            str(tmp_path / "probe"),
            "six",
        ],
        capture_output=True,
        text=True,
        env=env,
    )
    assert probe.returncode != 0
    # --force: really build (from the caches), not restore the finished set from the package cache.
    proc = subprocess.run(
        [*HARNESS, "build", "debian12", "--force"],
        capture_output=True,
        text=True,
        env=env,
        timeout=900,
    )
    assert proc.returncode == 0, proc.stderr
    assert (
        read_manifest(tmp_path / "dist" / "debian12")["inputs_digest"]
        == read_manifest(paths.package_set_dir("debian12"))["inputs_digest"]
    )


# ---- defect variants, compared with the good packages file by file -------------------------


def _shebang(tree: Path, rel: str) -> str:
    return (tree / rel).read_bytes().split(b"\n", 1)[0].decode()


def check_system_site_packages(diff, trees):
    assert diff == {"salt": {"opt/salt/pyvenv.cfg": "changed"}}
    assert (
        "include-system-site-packages = true" in (trees["salt"] / "opt/salt/pyvenv.cfg").read_text()
    )


def check_buildroot_paths(diff, trees):
    assert list(diff) == ["salt"] and set(diff["salt"].values()) == {"changed"}
    changed = set(diff["salt"])
    assert {"opt/salt/pyvenv.cfg", "opt/salt/bin/salt-call", "opt/salt/bin/activate"} <= changed
    assert all(p.startswith("opt/salt/bin/") or p == "opt/salt/pyvenv.cfg" for p in changed)
    fake = defects.FAKE_BUILD_ROOT + "/opt/salt"
    for p in changed:
        if p.startswith("opt/salt/bin/") and not p.startswith("opt/salt/bin/activate"):
            assert _shebang(trees["salt"], p).startswith(f"#!{fake}/bin/"), p
    assert fake in (trees["salt"] / "opt/salt/pyvenv.cfg").read_text()


def check_ld_export(diff, trees):
    assert diff == {
        "salt": {
            "etc/ld.so.conf.d": "added",
            "etc/ld.so.conf.d/salt.conf": "added",
            "DEBIAN/postinst": "changed",
        }
    }
    assert (trees["salt"] / "etc/ld.so.conf.d/salt.conf").read_text().strip() == "/opt/salt/lib"
    assert "ldconfig" in (trees["salt"] / "DEBIAN/postinst").read_text()


def check_wrapper_pythonpath(diff, trees):
    wrappers = {(s.name, f"usr/bin/{t}") for s in layout.SUBPACKAGES for t in s.tools}
    assert {(n, p) for n, changes in diff.items() for p in changes} == wrappers
    for name, path in wrappers:
        assert (
            f"export PYTHONPATH={defects.DISTRO_DIST_PACKAGES}" in (trees[name] / path).read_text()
        )


def check_missing_dep(diff, trees):
    assert list(diff) == ["salt"] and set(diff["salt"].values()) == {"removed"}
    assert all(
        re.match(r"opt/salt/lib/python3\.\d+/site-packages/msgpack", p) for p in diff["salt"]
    )
    assert any(p.endswith("msgpack/__init__.py") for p in diff["salt"])


def check_unit_path(diff, trees):
    unit = "lib/systemd/system/salt-minion.service"
    assert diff == {"salt-minion": {unit: "changed"}}
    assert f"ExecStart={defects.MISSING_UNIT_EXEC}" in (trees["salt-minion"] / unit).read_text()


def check_conffile(diff, trees):
    assert list(diff) == ["salt-minion"] and list(diff["salt-minion"]) == ["DEBIAN/conffiles"]
    conffiles = trees["salt-minion"] / "DEBIAN/conffiles"
    assert not conffiles.exists() or "/etc/salt/minion" not in conffiles.read_text()


def check_distro_clobber(diff, trees):
    assert diff == {"salt": {"DEBIAN/postinst": "changed"}}
    assert f"{defects.CLOBBERED_FILE}" in (trees["salt"] / "DEBIAN/postinst").read_text()


SITE = "opt/salt/lib/python3.11/site-packages"  # debian12's venv
WITH_UNITS = [s.name for s in layout.SUBPACKAGES if s.units]


def check_service_state(diff, trees):
    assert diff == {name: {"DEBIAN/postinst": "changed"} for name in WITH_UNITS}
    postinst = (trees["salt-minion"] / "DEBIAN/postinst").read_text()
    assert "systemctl unmask salt-minion.service; systemctl enable" in postinst


def check_upgrade_stops(diff, trees):
    assert diff == {name: {"DEBIAN/preinst": "added"} for name in WITH_UNITS}
    preinst = (trees["salt-minion"] / "DEBIAN/preinst").read_text()
    assert "deb-systemd-invoke stop salt-minion.service" in preinst


def check_world_writable(diff, trees):
    assert diff == {"salt": {f"{SITE}/salt/modules": "changed"}}
    assert (trees["salt"] / SITE / "salt/modules").stat().st_mode & 0o002


def check_root_only(diff, trees):
    assert diff == {"salt": {f"{SITE}/salt/utils": "changed"}}
    assert (trees["salt"] / SITE / "salt/utils").stat().st_mode & 0o777 == 0o700


def check_runtime_writes(diff, trees):
    assert list(diff) == ["salt"] and set(diff["salt"].values()) == {"removed"}
    assert all("__pycache__" in p for p in diff["salt"])


def check_conffile_prompt(diff, trees):
    assert diff == {"salt-minion": {"etc/salt/minion": "changed"}}
    text = (trees["salt-minion"] / "etc/salt/minion").read_text()
    assert text.startswith("# defaults of the Salt 3008.4 package")


def check_version_stamp(diff, trees):
    assert diff == {"salt": {f"{SITE}/salt/_version.txt": "changed"}}
    stamp = (trees["salt"] / SITE / "salt/_version.txt").read_text().strip()
    assert stamp == defects.STALE_SALT_VERSION


def check_distro_dep(diff, trees):
    assert diff == {"salt": {"DEBIAN/control": "changed"}}
    depends = next(
        line
        for line in (trees["salt"] / "DEBIAN/control").read_text().splitlines()
        if line.startswith("Depends:")
    )
    assert depends.endswith(", python3-tornado")


def check_stop_signal(diff, trees):
    assert list(diff) == ["salt-minion"] and list(diff["salt-minion"].values()) == ["changed"]
    unit = next(iter(diff["salt-minion"]))
    assert unit.endswith("/salt-minion.service")
    assert "KillSignal=SIGUSR1" in (trees["salt-minion"] / unit).read_text()


def check_missing_script(diff, trees):
    assert diff == {"salt": {"opt/salt/bin/salt-cloud": "removed"}}


def check_no_libyaml(diff, trees):
    assert list(diff) == ["salt"] and list(diff["salt"].values()) == ["removed"]
    assert re.fullmatch(rf"{SITE}/yaml/_yaml\.cpython-[^/]+\.so", next(iter(diff["salt"])))


def check_exit_noise(diff, trees):
    assert diff == {"salt": {f"{SITE}/salt-teardown.pth": "added"}}
    assert "sys.stderr.write" in (trees["salt"] / SITE / "salt-teardown.pth").read_text()


def check_python_unversioned(diff, trees):
    assert diff == {"salt": {"opt/salt/bin/python3.11": "changed"}}
    assert (trees["salt"] / "opt/salt/bin/python3.11").readlink() == Path("/usr/bin/python3")


def check_slimmed(diff, trees):
    assert list(diff) == ["salt"] and set(diff["salt"].values()) == {"removed"}
    assert f"{SITE}/salt/utils/cloud.py" in diff["salt"] and len(diff["salt"]) == 2


def check_logrotate_dir(diff, trees):
    moved = defects.LOGROTATE_IN_A_DIRECTORY.lstrip("/")
    assert diff == {
        "salt": {
            "etc/logrotate.d/salt": "changed",  # a file before, a directory now
            moved: "added",
            "DEBIAN/conffiles": "changed",
        }
    }
    assert defects.LOGROTATE_IN_A_DIRECTORY in (trees["salt"] / "DEBIAN/conffiles").read_text()


def check_salt_pip_target(diff, trees):
    assert diff == {"salt": {"opt/salt/bin/salt-pip": "changed"}}
    launcher = (trees["salt"] / "opt/salt/bin/salt-pip").read_text()
    assert "from salt.scripts import salt_pip" in launcher and "--target" not in launcher


def check_ownership_reset(diff, trees):
    assert diff == {"salt": {"DEBIAN/postinst": "changed"}}
    assert "chown -R root:root /etc/salt" in (trees["salt"] / "DEBIAN/postinst").read_text()


def check_rc_above_final(diff, trees):
    assert diff == {}  # the good build's packages: only the name a candidate would get differs


def check_extras_stranded(diff, trees):
    assert diff == {"salt": {"DEBIAN/postinst": "removed"}}  # its one line: the carry


def check_extras_wiped(diff, trees):
    assert diff == {"salt": {"DEBIAN/postinst": "changed"}}
    assert "rm -rf /opt/salt/extras-3.11/*" in (trees["salt"] / "DEBIAN/postinst").read_text()


def check_restart_queued(diff, trees):
    assert diff == {name: {"DEBIAN/postinst": "changed"} for name in WITH_UNITS}
    postinst = (trees["salt-minion"] / "DEBIAN/postinst").read_text()
    assert "wait=--no-block\n" in postinst and "if started_by_salt; then" not in postinst


def check_orphans_on_stop(diff, trees):
    unit = "lib/systemd/system/salt-minion.service"
    assert diff == {"salt-minion": {unit: "changed"}}
    assert "KillMode=process\n" in (trees["salt-minion"] / unit).read_text()


def check_no_init_scripts(diff, trees):
    assert sorted(diff) == sorted(WITH_UNITS)
    for name in WITH_UNITS:
        assert diff[name][f"etc/init.d/{name}"] == "removed"
        assert diff[name]["DEBIAN/postinst"] == "changed"
        # and with the scripts gone, their conffile lines (all the file holds, or part of it)
        assert set(diff[name]) <= {
            f"etc/init.d/{name}",
            "etc/init.d",
            "etc",
            "DEBIAN/conffiles",
            "DEBIAN/postinst",
        }
        assert not (trees[name] / "etc/init.d").exists()
        assert "update-rc.d" not in (trees[name] / "DEBIAN/postinst").read_text()


DEBIAN_DEFECTS = [name for name in defects.DEFECTS if name not in defects.CENTOS7]
CHECKS = {name: globals()["check_" + name.replace("-", "_")] for name in DEBIAN_DEFECTS}


@pytest.fixture(scope="module")
def good_debian12(tmp_path_factory):
    out = ensure_built("debian12")
    return extract_debs(out, tmp_path_factory.mktemp("good"))


@pytest.mark.slow
@pytest.mark.parametrize("defect", DEBIAN_DEFECTS)
def test_defect_variant_differs_exactly_as_named(defect, good_debian12, tmp_path):
    out = ensure_built("debian12", defect=defect)
    m = read_manifest(out)
    assert m["defect"] == defect and out.name == f"debian12-defect-{defect}"
    # A variant that keeps the venv packs the good build's /opt/salt: the diff shows it whole.
    assert m["venv_of_the_good_build"] == defects.transform(defect).keeps_the_venv
    bad = extract_debs(out, tmp_path)
    CHECKS[defect](tree_diff(good_debian12, bad), bad)
    if defect == "missing-dep":
        assert "msgpack" not in m["bundled"]
    if defect == "rc-above-final":
        assert m["prerelease_order"] == [f"{DEFAULT_SALT}rc1-1", f"{DEFAULT_SALT}-1"]


# ---- failures: one line, log path, nothing left behind -------------------------------------


@pytest.mark.slow
def test_a_failing_build_step_names_the_log_and_leaves_nothing(tmp_path):
    """A lock that lacks one of Salt's dependencies: the box's `pip check` fails."""
    locks = tmp_path / "locks"
    locks.mkdir()
    real = salt_lock(DEFAULT_SALT, "3.11")
    pins = [p for p in parse_lock(real.read_text()) if p.key != "pyyaml"]
    (locks / real.name).write_text("".join(p.requirement() + "\n" for p in pins))
    (locks / "build-py3.11.txt").write_text(real.with_name("build-py3.11.txt").read_text())
    dist = tmp_path / "dist"
    proc = subprocess.Popen(
        [*HARNESS, "build", "debian12"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=dict(os.environ, SVH_LOCK_DIR=str(locks), SVH_DIST_DIR=str(dist), COLUMNS="400"),
    )
    _, err = proc.communicate(timeout=900)
    assert proc.returncode == 1 and "Traceback" not in err
    error = [line for line in err.splitlines() if line.startswith("error:")]
    assert len(error) == 1 and "checking the venv's dependencies failed" in error[0]
    found = re.search(r"full build log: (\S+)\)", error[0])
    assert found, error[0]
    log = found.group(1)
    assert log == str(dist / "logs" / "debian12.build.log")
    assert "pyyaml" in Path(log).read_text().lower()
    assert state.load(f"build-debian12-{proc.pid}") is None  # the build box is gone
    assert sorted(p.name for p in dist.iterdir()) == ["logs"]  # no package, no half-written dir


@pytest.mark.slow
def test_ctrl_c_removes_the_build_box(tmp_path):
    dist = tmp_path / "dist"
    # --force: with the package cache warm the build would finish before the interrupt.
    # A defect that changes the build itself: one that keeps the venv would first build (or
    # restore) the good set, a whole build of its own that lands in dist/.
    proc = subprocess.Popen(
        [*HARNESS, "build", "debian13", "--defect", "missing-dep", "--force"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=dict(os.environ, SVH_DIST_DIR=str(dist)),
    )
    name = f"build-debian13-{proc.pid}"
    deadline = time.monotonic() + 120
    while state.load(name) is None:
        assert proc.poll() is None and time.monotonic() < deadline, proc.communicate()
        time.sleep(0.2)
    time.sleep(3)
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == 130, err
    assert "Traceback" not in err
    assert state.load(name) is None
    assert sorted(p.name for p in dist.iterdir()) == ["logs"]


@pytest.mark.slow
def test_a_second_build_of_the_same_output_waits_for_the_first():
    ensure_built("debian12")
    # The test holds the output's build lock, as a build running elsewhere would.
    with state.locked(log_path("debian12").with_suffix(".lock")):
        proc = subprocess.Popen(
            [*HARNESS, "build", "debian12"],
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        time.sleep(5)
        waiting = proc.poll() is None
    out, _ = proc.communicate(timeout=120)
    assert waiting, f"the second build did not wait for the first: {out}"
    assert proc.returncode == 0 and "is up to date" in out, out
