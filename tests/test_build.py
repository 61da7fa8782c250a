"""The build module for real: packages built in build boxes, installed with apt on fresh
boxes of their release next to the distribution's conflicting libraries, defect variants
compared with the good packages file by file. Pure logic (names, defects, scripts, manifest
reuse) is tested without boxes.

Builds are reused while dist/<output>/manifest.json records the current inputs, so a run
with warm dist/ and caches only installs and compares.
"""

from __future__ import annotations

import json
import os
import re
import shlex
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from build_helpers import ensure_built, extract_debs, tree_diff

from builds import deb, defects, layout, manifest
from builds.build import output_name
from builds.errors import BuildError
from builds.inputs import fetch_inputs
from builds.locks import DEFAULT_SALT, lock_name, parse_lock, salt_lock
from builds.payload import StagedPayload, _describe, files_tree
from builds.remote import BoxRunner
from harness import catalog, paths, state
from harness.session import box_instance

BOXES = ["debian11", "debian12", "debian13"]
# One worker runs every build: two package builds at once would fight over the 2 cores.
pytestmark = pytest.mark.xdist_group("build")
HARNESS = [sys.executable, "-m", "signoff.cli"]
BUILD_PATHS = "/var/tmp/svh-|/tmp/pip-"


# ---- pure logic ---------------------------------------------------------------------------


def test_output_names_never_clash_with_the_good_packages():
    assert output_name("debian12") == "debian12"
    assert output_name("debian12", "3007.16") == "debian12-salt-3007.16"
    assert output_name("debian12", defect="conffile") == "debian12-defect-conffile"
    names = {output_name("debian12", defect=d) for d in defects.DEFECTS}
    assert len(names) == len(defects.DEFECTS) and "debian12" not in names


def test_defect_list_has_one_line_each():
    lines = defects.listing().splitlines()
    assert [l.split()[0] for l in lines] == list(defects.DEFECTS)
    assert set(defects.DEFECTS) == {
        "system-site-packages",
        "buildroot-paths",
        "ld-export",
        "wrapper-pythonpath",
        "missing-dep",
        "unit-path",
        "conffile",
        "distro-clobber",
    }
    with pytest.raises(BuildError, match="unknown defect 'nope'"):
        defects.check("nope")


def test_unknown_salt_version_names_the_known_ones():
    with pytest.raises(BuildError) as e:
        salt_lock("3008.99", "3.11")
    assert "unknown Salt version '3008.99'" in str(e.value) and "3008.4" in str(e.value)
    assert "\n" not in str(e.value)


def test_every_lock_pins_with_hashes():
    for salt in ("3008.4", "3007.16"):
        for py in ("3.11", "3.13"):
            pins = {
                p.key: p for p in parse_lock(salt_lock(salt, py).read_text(), lock_name(salt, py))
            }
            assert pins["salt"].version == salt
            assert "msgpack" in pins and all(p.hashes for p in pins.values())


def staged(defect=None, box="debian12") -> StagedPayload:
    b = catalog.load_box(box)
    p = StagedPayload(
        box=box,
        root="/stage",
        salt_version="3008.4",
        version="3008.4-1",
        python_version="3.11.2",
        bundled_interpreter=False,
        system_python="/usr/bin/python3.11",
        unit_dir=layout.unit_dir(b),
        defect=defect,
    )
    _describe(p, "3.11")
    return p


def test_units_go_where_each_release_puts_them():
    assert layout.unit_dir(catalog.load_box("debian11")) == "/lib/systemd/system"
    assert layout.unit_dir(catalog.load_box("debian12")) == "/lib/systemd/system"
    assert layout.unit_dir(catalog.load_box("debian13")) == "/usr/lib/systemd/system"


def test_maintainer_scripts_follow_debian_policy():
    minion = staged().packages["salt-minion"]
    post = deb.postinst(minion)
    assert (
        "deb-systemd-helper enable" in post
        and "deb-systemd-invoke $action salt-minion.service" in post
    )
    assert 'if [ -n "$2" ]; then action=restart; else action=start; fi' in post
    assert "deb-systemd-invoke stop salt-minion.service" in deb.prerm(minion)
    postrm = deb.postrm(minion)
    assert (
        "deb-systemd-helper purge salt-minion.service" in postrm
        and "/etc/salt/pki/minion" in postrm
    )
    for script in (post, deb.prerm(minion), postrm):
        subprocess.run(["sh", "-n"], input=script, text=True, check=True)
    assert deb.postinst(staged().packages["salt-cloud"]) is None  # no unit, nothing to start
    assert deb.depends_of(minion, "3008.4-1", []) == ["salt (= 3008.4-1)", deb.HELPER_DEPENDS]
    assert "salt-master (= 3008.4-1)" in deb.depends_of(
        staged().packages["salt-api"], "3008.4-1", []
    )


def test_defects_in_the_package_description_touch_only_their_part(tmp_path):
    good = staged()
    assert "/etc/salt/minion" in good.packages["salt-minion"].conffiles
    assert "/etc/salt/minion" not in staged("conffile").packages["salt-minion"].conffiles
    assert staged("ld-export").packages["salt"].post_install == ["ldconfig"]
    clobber = staged("distro-clobber").packages["salt"].post_install
    assert len(clobber) == 1 and defects.CLOBBERED_FILE in clobber[0]
    for d in defects.DEFECTS:
        if d not in ("conffile", "ld-export", "distro-clobber"):
            assert staged(d).packages == good.packages, d


def test_wrappers_and_units_differ_only_in_their_defects(tmp_path):
    trees = {}
    for d in (None, "wrapper-pythonpath", "unit-path", "ld-export"):
        files_tree(staged(d), tmp_path / str(d))
        trees[d] = {
            str(p.relative_to(tmp_path / str(d))): p.read_text() if p.is_file() else "<dir>"
            for p in (tmp_path / str(d)).rglob("*")
        }
    good = trees[None]
    wrapper = good["salt-minion/usr/bin/salt-minion"]
    assert "unset" in wrapper and wrapper.rstrip().endswith('exec /opt/salt/bin/salt-minion "$@"')
    changed = lambda d: {k for k in good.keys() | trees[d].keys() if good.get(k) != trees[d].get(k)}
    assert changed("wrapper-pythonpath") == {k for k in good if "/usr/bin/" in k}
    assert changed("unit-path") == {"salt-minion/lib/systemd/system/salt-minion.service"}
    assert (
        "ExecStart=/usr/local/bin/salt-minion"
        in trees["unit-path"]["salt-minion/lib/systemd/system/salt-minion.service"]
    )
    assert changed("ld-export") == {"salt/etc/ld.so.conf.d", "salt/etc/ld.so.conf.d/salt.conf"}


def test_wrapper_drops_the_callers_python_settings(tmp_path):
    wrapper = tmp_path / "w"
    wrapper.write_text(layout.wrapper_text("x").replace("exec /opt/salt/bin/x", "exec env"))
    env = dict(
        os.environ, PYTHONPATH="/evil", PYTHONHOME="/evil", PYTHONSTARTUP="/evil", KEEP="yes"
    )
    out = subprocess.run(
        ["sh", str(wrapper)], env=env, capture_output=True, text=True, check=True
    ).stdout
    assert "KEEP=yes" in out and not re.search(r"^PYTHON", out, re.M)


def test_manifest_reuse_needs_the_same_inputs_and_intact_files(tmp_path):
    (tmp_path / "salt_1_amd64.deb").write_bytes(b"x" * 10)
    entry = manifest.package_entry(tmp_path / "salt_1_amd64.deb", "salt", "1", "amd64")
    manifest.write(tmp_path, {"inputs_digest": "abc", "packages": [entry]})
    assert manifest.is_current(tmp_path, "abc")
    assert not manifest.is_current(tmp_path, "other")
    (tmp_path / "salt_1_amd64.deb").write_bytes(b"x")
    assert not manifest.is_current(tmp_path, "abc")
    box = catalog.load_box("debian12")
    assert manifest.inputs_digest(box, "3008.4", None, "deb") != manifest.inputs_digest(
        box, "3007.16", None, "deb"
    )
    assert manifest.inputs_digest(box, "3008.4", None, "deb") != manifest.inputs_digest(
        box, "3008.4", "conffile", "deb"
    )


def test_cli_errors_are_one_line_without_traceback():
    for args, expected in (
        (["build", "debian12", "--salt", "2999.1"], "unknown Salt version '2999.1'"),
        (["build", "debian12", "--defect", "nope"], "unknown defect 'nope'"),
        (["build", "nobox"], "unknown box 'nobox'"),
    ):
        proc = subprocess.run(
            HARNESS + args, capture_output=True, text=True, env=dict(os.environ, COLUMNS="300")
        )
        assert proc.returncode == 1, args
        assert expected in proc.stderr and "Traceback" not in proc.stderr
        assert len(proc.stderr.strip().splitlines()) == 1, proc.stderr


def test_a_version_the_index_cannot_serve_is_one_line_with_the_log(tmp_path, monkeypatch):
    """A lock pinning a Salt release that the reachable index does not have."""
    monkeypatch.setenv("SVH_BUILD_CACHE_DIR", str(tmp_path / "cache"))
    lock = tmp_path / "salt-3008.77-py3.11.txt"
    lock.write_text("salt==3008.77 \\\n    --hash=sha256:" + "0" * 64 + "\n")
    log = tmp_path / "build.log"
    with pytest.raises(BuildError) as e:
        fetch_inputs(
            lock,
            salt_lock(DEFAULT_SALT, "3.11").with_name("build-py3.11.txt"),
            "3.11",
            "2.36",
            log,
            progress=lambda m: None,
        )
    assert "fetching salt-3008.77-py3.11.txt from the index failed" in str(e.value)
    assert str(log) in str(e.value) and "\n" not in str(e.value)
    assert not (tmp_path / "cache" / "inputs").exists() or not any(
        p.name[0] != "." for p in (tmp_path / "cache" / "inputs").iterdir()
    )


# ---- real builds and installs -------------------------------------------------------------


def run(machine, cmd, timeout=300) -> str:
    return machine.run(cmd, timeout=timeout).stdout


@pytest.fixture(scope="module", params=BOXES)
def installed(request, tmp_path_factory):
    """A fresh box of the release with the good packages installed by apt (no network)."""
    box = request.param
    try:
        out = ensure_built(box)
    except BuildError as e:
        pytest.fail(f"build of {box} failed: {e}", pytrace=False)
    m = manifest.read(out)
    with box_instance(box, name=f"test-build-{box}-{os.getpid()}") as machine:
        runner = BoxRunner(machine, tmp_path_factory.mktemp("install") / "copy.log")
        machine.run("mkdir -p /tmp/pkgs")
        for pkg in m["packages"]:
            runner.send_file(
                out / pkg["file"], f"/tmp/pkgs/{pkg['file']}", f"copying {pkg['file']}"
            )
        machine.run(
            "DEBIAN_FRONTEND=noninteractive apt-get install -y /tmp/pkgs/*.deb", timeout=600
        )
        yield machine, m, catalog.load_box(box)


@pytest.mark.slow
def test_manifest_describes_the_build(installed):
    _, m, box = installed
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
def test_installs_next_to_the_distro_conflict_packages(installed):
    machine, _, box = installed
    for c in box.conflicts:
        version = run(machine, f"dpkg-query -W -f='${{Version}}' {c.package}")
        assert version.startswith(c.version), c.package
        # The distribution's own copy still imports for the system Python.
        run(machine, f"/usr/bin/python3 -c 'import {c.module}'")


@pytest.mark.slow
def test_salt_call_test_ping_is_true(installed):
    machine, _, _ = installed
    out = run(machine, "/opt/salt/bin/salt-call --local test.ping --out json")
    assert json.loads(out) == {"local": True}


@pytest.mark.slow
def test_salt_minion_version_through_the_wrapper(installed):
    machine, m, _ = installed
    assert (
        run(machine, "/usr/bin/salt-minion --version")
        .strip()
        .startswith(f"salt-minion {m['salt_version']}")
    )


@pytest.mark.slow
def test_minion_and_master_run_as_services(installed):
    machine, _, box = installed
    assert run(machine, "systemctl is-enabled salt-minion salt-master").split() == [
        "enabled",
        "enabled",
    ]
    unit_dir = layout.unit_dir(box)
    run(machine, f"test -f {unit_dir}/salt-minion.service")
    deadline = time.monotonic() + 30
    while run(machine, "systemctl is-active salt-minion salt-master || true").split() != [
        "active",
        "active",
    ]:
        assert time.monotonic() < deadline, run(
            machine, "systemctl status salt-minion salt-master --no-pager || true"
        )
        time.sleep(1)


@pytest.mark.slow
def test_configs_are_conffiles(installed):
    machine, _, _ = installed
    for pkg, path in (
        ("salt-minion", "/etc/salt/minion"),
        ("salt-master", "/etc/salt/master"),
        ("salt", "/etc/logrotate.d/salt"),
    ):
        assert f" {path} " in run(machine, f"dpkg-query -W -f='${{Conffiles}}\\n' {pkg}")


@pytest.mark.slow
def test_no_build_path_anywhere_in_the_installed_payload(installed):
    machine, _, _ = installed
    listed = (
        "dpkg -L salt salt-minion salt-master salt-syndic salt-api salt-cloud salt-ssh | sort -u"
        ' | while read -r f; do if [ -f "$f" ]; then printf \'%s\\0\' "$f"; fi; done'
    )
    assert int(run(machine, f"{listed} | tr -cd '\\0' | wc -c")) > 1000
    found = run(machine, f"{listed} | xargs -0 grep -laE '{BUILD_PATHS}' || true")
    assert found.strip() == ""


@pytest.mark.slow
def test_every_shebang_points_inside_opt_salt(installed):
    machine, _, _ = installed
    out = run(
        machine,
        'for f in /opt/salt/bin/*; do [ -f "$f" ] && [ ! -L "$f" ] && '
        'head -n 1 "$f" | grep -a \'^#!\' | sed "s|^|$f: |"; done; true',
    )
    shebangs = [l for l in out.splitlines() if l.strip()]
    assert len(shebangs) > 10
    # Every interpreter line names /opt/salt's Python (python3.X-config is a /bin/sh script).
    bad = [
        l for l in shebangs if not l.split(": ", 1)[1].startswith(("#!/opt/salt/bin/", "#!/bin/sh"))
    ]
    assert bad == []
    assert run(machine, "grep -l \"^'''exec'\" /opt/salt/bin/* || true").strip() == ""


@pytest.mark.slow
def test_sys_path_stays_in_opt_salt_with_a_hostile_environment(installed):
    machine, m, _ = installed
    hostile = (
        "PYTHONPATH=/usr/lib/python3/dist-packages PYTHONHOME=/usr PYTHONUSERBASE=/root/.local "
        "PYTHONSTARTUP=/etc/passwd"
    )
    run(
        machine,
        "mkdir -p /root/.local/lib/python3.11/site-packages /root/.local/lib/python3.13/site-packages",
    )
    out = run(machine, f"env {hostile} /usr/bin/salt-call --local grains.get pythonpath --out json")
    path = json.loads(out)["local"]
    assert "/opt/salt/bin" in path and any(p.endswith("/site-packages") for p in path)
    for p in path:
        if m["bundled_interpreter"]:
            assert p.startswith("/opt/salt/"), p
        else:  # a venv on the system Python: /opt/salt plus that Python's own stdlib
            assert p.startswith("/opt/salt/") or re.fullmatch(
                r"/usr/lib/python3\.?\d+(\.zip|/lib-dynload)?", p
            ), p
    assert not any("dist-packages" in p or "/.local/" in p for p in path)


@pytest.mark.slow
def test_nothing_is_exported_to_the_system(installed):
    machine, _, _ = installed
    assert (
        run(
            machine, "grep -rl /opt/salt /etc/ld.so.conf /etc/ld.so.conf.d /etc/profile.d || true"
        ).strip()
        == ""
    )
    assert run(machine, "ldconfig -p | grep /opt/salt || true").strip() == ""


@pytest.mark.slow
def test_bundled_cpython_is_complete_and_self_contained(installed):
    machine, m, _ = installed
    if not m["bundled_interpreter"]:
        pytest.skip("this box's venv uses the system Python; only debian11 bundles CPython")
    from builds.cpython import REQUIRED_MODULES

    run(
        machine,
        "/opt/salt/bin/python3 -I -c "
        + shlex.quote("; ".join(f"import {x}" for x in REQUIRED_MODULES)),
    )
    assert "$ORIGIN/../lib" in run(
        machine, "readelf -d /opt/salt/bin/python3.11 | grep -E 'RUNPATH|RPATH'"
    )
    assert re.search(
        r"libpython3\.11\.so\.1\.0 => /opt/salt/(bin/\.\./)?lib/libpython3\.11\.so\.1\.0",
        run(machine, "ldd /opt/salt/bin/python3.11"),
    )
    assert (
        run(machine, "/opt/salt/bin/python3 -c 'import sys; print(sys.base_prefix)'").strip()
        == "/opt/salt"
    )


@pytest.mark.slow
def test_purge_removes_everything(installed):
    machine, _, _ = installed
    names = " ".join(s.name for s in layout.SUBPACKAGES)
    run(machine, f"DEBIAN_FRONTEND=noninteractive apt-get purge -y {names}", timeout=300)
    assert (
        run(
            machine,
            "ls -d /opt/salt /etc/salt/minion /var/cache/salt /usr/bin/salt-minion 2>&1 || true",
        ).count("No such file")
        == 4
    )
    assert run(machine, "systemctl is-active salt-minion || true").strip() in (
        "inactive",
        "unknown",
    )


@pytest.mark.slow
def test_the_older_salt_line_builds_too():
    out = ensure_built("debian12", "3007.16")
    m = manifest.read(out)
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
        HARNESS + ["build", "debian12", "--force"],
        capture_output=True,
        text=True,
        env=env,
        timeout=900,
    )
    assert proc.returncode == 0, proc.stderr
    assert (
        manifest.read(tmp_path / "dist" / "debian12")["inputs_digest"]
        == manifest.read(paths.DIST_DIR / "debian12")["inputs_digest"]
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
            "DEBIAN/postinst": "added",
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
    assert diff == {"salt": {"DEBIAN/postinst": "added"}}
    assert f"{defects.CLOBBERED_FILE}" in (trees["salt"] / "DEBIAN/postinst").read_text()


CHECKS = {name: globals()["check_" + name.replace("-", "_")] for name in defects.DEFECTS}


@pytest.fixture(scope="module")
def good_debian12(tmp_path_factory):
    out = ensure_built("debian12")
    return extract_debs(out, tmp_path_factory.mktemp("good"))


@pytest.mark.slow
@pytest.mark.parametrize("defect", list(defects.DEFECTS))
def test_defect_variant_differs_exactly_as_named(defect, good_debian12, tmp_path):
    out = ensure_built("debian12", defect=defect)
    m = manifest.read(out)
    assert m["defect"] == defect and out.name == f"debian12-defect-{defect}"
    bad = extract_debs(out, tmp_path)
    CHECKS[defect](tree_diff(good_debian12, bad), bad)
    if defect == "missing-dep":
        assert "msgpack" not in m["bundled"]


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
        HARNESS + ["build", "debian12"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=dict(os.environ, SVH_LOCK_DIR=str(locks), SVH_DIST_DIR=str(dist), COLUMNS="400"),
    )
    _, err = proc.communicate(timeout=900)
    assert proc.returncode == 1 and "Traceback" not in err
    error = [l for l in err.splitlines() if l.startswith("error:")]
    assert len(error) == 1 and "checking the venv's dependencies failed" in error[0]
    log = re.search(r"full build log: (\S+)\)", error[0]).group(1)
    assert log == str(dist / "logs" / "debian12.build.log")
    assert "pyyaml" in Path(log).read_text().lower()
    assert state.load(f"build-debian12-{proc.pid}") is None  # the build box is gone
    assert sorted(p.name for p in dist.iterdir()) == ["logs"]  # no package, no half-written dir


@pytest.mark.slow
def test_ctrl_c_removes_the_build_box(tmp_path):
    dist = tmp_path / "dist"
    # --force: with the package cache warm the build would finish before the interrupt.
    proc = subprocess.Popen(
        HARNESS + ["build", "debian13", "--defect", "conffile", "--force"],
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
