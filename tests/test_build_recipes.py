"""The build module's pure logic, without boxes: output names, defects, maintainer
scripts, wrappers and units, manifest reuse, one-line errors. The builds themselves:
test_build.py; what the packages do on a box: suites/."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from staged_payload import staged

from builds import deb, defects, layout, manifest, rpm, wheels
from builds.build import output_name
from builds.errors import BuildError
from builds.inputs import fetch_inputs, platform_tags
from builds.locks import DEFAULT_SALT, lock_name, parse_lock, salt_lock
from builds.payload import files_tree
from harness import catalog

HARNESS = [sys.executable, "-m", "signoff.cli"]


# ---- pure logic ---------------------------------------------------------------------------


def test_output_names_never_clash_with_the_good_packages():
    assert output_name("debian12") == "debian12"
    assert output_name("debian12", "3007.16") == "debian12-salt-3007.16"
    assert output_name("debian12", defect="conffile") == "debian12-defect-conffile"
    names = {output_name("debian12", defect=d) for d in defects.DEFECTS}
    assert len(names) == len(defects.DEFECTS) and "debian12" not in names


def test_defect_list_has_one_line_each():
    lines = defects.listing().splitlines()
    assert [line.split()[0] for line in lines] == list(defects.EVERY)
    with pytest.raises(BuildError, match="unknown defect 'nope'"):
        defects.check("nope")
    # Each defect names the boxes it applies to, and is refused elsewhere in one line.
    assert all(line.split()[1] in ("debian", "centos7") for line in lines)
    with pytest.raises(BuildError, match="build it for centos7"):
        defects.check("system-libssl", portable=False)
    with pytest.raises(BuildError, match="build it for a Debian box"):
        defects.check("conffile", portable=True)


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


@pytest.mark.parametrize("glibc", ["2.5", "2.12", "2.17", "2.36"])
def test_wheels_are_asked_for_within_the_box_s_glibc_only(glibc):
    minor = int(glibc.split(".")[1])
    tags = platform_tags(glibc)
    needs = {"manylinux2014": 17, "manylinux2010": 12, "manylinux1": 5}
    for tag in tags[:-1]:
        legacy = tag.split("_")[0]
        wanted = needs[legacy] if legacy in needs else int(tag.split("_")[2])
        assert wanted <= minor, f"{tag} needs glibc 2.{wanted}, the box has {glibc}"
    assert tags[0] == f"manylinux_2_{minor}_x86_64" and tags[-1] == "linux_x86_64"
    assert {"manylinux1_x86_64", "manylinux_2_5_x86_64"} <= set(tags)
    assert ("manylinux2010_x86_64" in tags) == (minor >= 12)


def test_a_pure_wheel_is_shared_by_its_sdist_build_lock_and_python_minor(tmp_path):
    inputs = tmp_path / "inputs"
    (inputs / "dist").mkdir(parents=True)
    (inputs / "build-lock.txt").write_text("setuptools==80.9.0\n")
    sdist = inputs / "dist" / "salt-3008.4.tar.gz"
    sdist.write_bytes(b"salt")
    key = wheels.pure_key(sdist, inputs, "3.11.2")
    assert wheels.pure_key(sdist, inputs, "3.11.9") == key  # another box's 3.11
    assert wheels.pure_key(sdist, inputs, "3.13.5") != key  # another requirements file
    (inputs / "build-lock.txt").write_text("setuptools==80.9.1\n")
    assert wheels.pure_key(sdist, inputs, "3.11.2") != key
    built = ["timelib-0.3.0-cp311-cp311-linux_x86_64.whl", "salt-3008.4-py3-none-any.whl"]
    assert wheels._wheel_of(sdist, built) == "salt-3008.4-py3-none-any.whl"
    assert wheels._wheel_of(
        inputs / "dist" / "Foo.Bar-1.0.tar.gz", ["foo_bar-1.0-py3-none-any.whl"]
    )
    assert wheels._wheel_of(inputs / "dist" / "salt-3007.16.tar.gz", built) is None


def test_units_go_where_each_release_puts_them():
    assert layout.unit_dir(catalog.load_box("debian11")) == "/lib/systemd/system"
    assert layout.unit_dir(catalog.load_box("debian12")) == "/lib/systemd/system"
    assert layout.unit_dir(catalog.load_box("debian13")) == "/usr/lib/systemd/system"


def test_debs_are_compressed_with_what_the_release_s_dpkg_reads():
    assert deb.compression(catalog.load_box("debian11")) == ["-Zxz", "-z1"]
    assert deb.compression(catalog.load_box("debian12")) == ["-Zzstd", "-z3"]
    assert deb.compression(catalog.load_box("debian13")) == ["-Zzstd", "-z3"]


def test_maintainer_scripts_follow_debian_policy():
    minion = staged().packages["salt-minion"]
    post = deb.postinst(minion)
    assert post is not None
    assert (
        "deb-systemd-helper enable" in post
        and "deb-systemd-invoke start salt-minion.service" in post
    )
    # The restart is done when dpkg returns, but under a Salt job (a minion upgrading itself).
    assert "if started_by_salt; then wait=--no-block; fi" in post
    assert 'systemctl $wait try-restart "$unit"' in post
    assert 'update-rc.d "$daemon" defaults' in post and "for daemon in salt-minion;" in post
    assert "deb-systemd-invoke stop salt-minion.service" in (deb.prerm(minion) or "")
    postrm = deb.postrm(minion)
    assert postrm is not None
    assert (
        "deb-systemd-helper purge salt-minion.service" in postrm
        and "/etc/salt/pki/minion" in postrm
    )
    assert "update-rc.d salt-minion remove" in postrm
    scripts = deb.init_scripts(minion, layout.VENV)
    assert list(scripts) == ["/etc/init.d/salt-minion"]
    assert "# Provides:          salt-minion\n" in scripts["/etc/init.d/salt-minion"]
    for script in (post, deb.prerm(minion), postrm, *scripts.values()):
        subprocess.run(["sh", "-n"], input=script, text=True, check=True)
    assert deb.init_scripts(staged().packages["salt-cloud"], layout.VENV) == {}
    assert deb.postinst(staged().packages["salt-cloud"]) is None  # no unit, nothing to start
    assert deb.depends_of(minion, "3008.4-1", []) == ["salt (= 3008.4-1)", deb.HELPER_DEPENDS]
    assert "salt-master (= 3008.4-1)" in deb.depends_of(
        staged().packages["salt-api"], "3008.4-1", []
    )


def test_defects_in_the_package_description_touch_only_their_part(tmp_path):
    assert set(defects.TRANSFORMS) == set(defects.EVERY)
    good = staged()
    assert "/etc/salt/minion" in good.packages["salt-minion"].conffiles
    assert "/etc/salt/minion" not in staged("conffile").packages["salt-minion"].conffiles
    assert staged("ld-export").packages["salt"].post_install == ["ldconfig"]
    clobber = staged("distro-clobber").packages["salt"].post_install
    assert len(clobber) == 1 and defects.CLOBBERED_FILE in clobber[0]
    restarts = staged("service-state").packages["salt-minion"].post_install
    assert restarts == [
        "systemctl unmask salt-minion.service; systemctl enable salt-minion.service; "
        "systemctl restart salt-minion.service || true"
    ]
    assert staged("service-state").packages["salt-cloud"].post_install == []
    assert staged("extras-wiped").packages["salt"].post_install == [
        "rm -rf /opt/salt/extras-3.11/*"
    ]
    assert staged("upgrade-stops").packages["salt-minion"].pre_upgrade == [
        "deb-systemd-invoke stop salt-minion.service >/dev/null || true"
    ]
    assert staged("distro-dep").packages["salt"].distro_depends == ["python3-tornado"]
    moved = staged("logrotate-dir").packages["salt"].conffiles
    assert defects.LOGROTATE_IN_A_DIRECTORY in moved and "/etc/logrotate.d/salt" not in moved
    assert staged("rc-above-final").prerelease_order == ["3008.4rc1-1", "3008.4-1"]
    described = {"conffile", "ld-export", "distro-clobber", "service-state", "extras-wiped"}
    described |= {"distro-dep", "logrotate-dir", "ownership-reset", "extras-stranded"}
    assert not staged("extras-stranded").packages["salt"].carries_extras
    assert good.packages["salt"].carries_extras
    assert staged("ownership-reset").packages["salt"].post_install == [
        "chown -R root:root /etc/salt /var/cache/salt /var/log/salt"
    ]
    queued = staged("restart-queued").packages["salt-minion"]
    assert not queued.restart_waits and good.packages["salt-minion"].restart_waits
    post = deb.postinst(queued)
    assert post is not None and "wait=--no-block" in post and "started_by_salt;" not in post
    scriptless = staged("no-init-scripts").packages["salt-minion"]
    assert deb.init_scripts(scriptless, layout.VENV) == {}
    assert "update-rc.d" not in (deb.postinst(scriptless) or "")
    described |= {"restart-queued", "no-init-scripts"}
    for d in set(defects.EVERY) - described - defects.PORTABLE - {"upgrade-stops"}:
        assert staged(d).packages == good.packages, d


def test_wrappers_and_units_differ_only_in_their_defects(tmp_path):
    trees = {}
    variants = (
        "wrapper-pythonpath",
        "unit-path",
        "ld-export",
        "conffile-prompt",
        "config-changes",
        "stop-signal",
        "orphans-on-stop",
    )
    for d in (None, *variants):
        files_tree(staged(d), tmp_path / str(d))
        trees[d] = {
            str(p.relative_to(tmp_path / str(d))): p.read_text() if p.is_file() else "<dir>"
            for p in (tmp_path / str(d)).rglob("*")
        }
    good = trees[None]
    wrapper = good["salt-minion/usr/bin/salt-minion"]
    assert "unset" in wrapper and wrapper.rstrip().endswith('exec /opt/salt/bin/salt-minion "$@"')

    def changed(d):
        return {k for k in good.keys() | trees[d].keys() if good.get(k) != trees[d].get(k)}

    assert changed("wrapper-pythonpath") == {k for k in good if "/usr/bin/" in k}
    assert changed("unit-path") == {"salt-minion/lib/systemd/system/salt-minion.service"}
    assert (
        "ExecStart=/usr/local/bin/salt-minion"
        in trees["unit-path"]["salt-minion/lib/systemd/system/salt-minion.service"]
    )
    assert changed("ld-export") == {"salt/etc/ld.so.conf.d", "salt/etc/ld.so.conf.d/salt.conf"}
    assert changed("stop-signal") == {"salt-minion/lib/systemd/system/salt-minion.service"}
    assert (
        "KillSignal=SIGUSR1"
        in trees["stop-signal"]["salt-minion/lib/systemd/system/salt-minion.service"]
    )
    unit = "salt-minion/lib/systemd/system/salt-minion.service"
    assert changed("orphans-on-stop") == {unit}
    assert "KillMode=mixed" in good[unit] and "KillMode=process" in trees["orphans-on-stop"][unit]
    assert changed("conffile-prompt") == {"salt-minion/etc/salt/minion"}
    assert changed("config-changes") == {"salt-minion/etc/salt/minion"}
    assert trees["conffile-prompt"]["salt-minion/etc/salt/minion"].startswith(
        "# defaults of the Salt "
    )


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


def test_the_variants_catalog_rebuilds_the_variants_only(monkeypatch):
    box = catalog.load_box("debian12")
    before = [manifest.inputs_digest(box, "3008.4", d, "deb") for d in (None, "conffile")]
    read_text = Path.read_text

    def edited(path, *args, **kwargs):
        text = read_text(path, *args, **kwargs)
        return text + "\n# a new defect" if path.name == "defects.py" else text

    monkeypatch.setattr(Path, "read_text", edited)
    after = [manifest.inputs_digest(box, "3008.4", d, "deb") for d in (None, "conffile")]
    assert after[0] == before[0] and after[1] != before[1]


@pytest.mark.parametrize(
    "recipe", ["portable_recipe.sh", "portable_libraries.sh", "zig_wrappers.sh", "payload.py"]
)
def test_a_changed_recipe_rebuilds_the_packages(monkeypatch, recipe):
    box = catalog.load_box("centos7")
    before = manifest.inputs_digest(box, "3008.4", None, "rpm")
    read_text = Path.read_text

    def edited(path, *args, **kwargs):
        text = read_text(path, *args, **kwargs)
        return text + "\n# changed" if path.name == recipe else text

    monkeypatch.setattr(Path, "read_text", edited)
    assert manifest.inputs_digest(box, "3008.4", None, "rpm") != before


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


# The lines of the spec each RPM scriptlet defect may change, and what they become
# (preun-stops keeps the erase's disable and adds a stop that runs on upgrade too).
SPEC_CHANGES = {
    "preun-stops": (None, "systemctl stop salt-"),
    "postun-no-restart": ("%service_postun salt-", "systemctl daemon-reload"),
    "config-replaced": ("%config(noreplace) %{_sysconfdir}/salt/minion", "%config %{_sysconfdir}"),
    "post-starts-all": ("%service_post salt-", "systemctl unmask salt-"),
}


@pytest.mark.parametrize("defect", sorted(defects.RPM_SCRIPTLETS))
def test_an_rpm_scriptlet_defect_changes_only_the_lines_it_names(defect):
    good = rpm.SPEC.read_text().splitlines()
    broken = defects.transform(defect).spec(rpm.SPEC.read_text()).splitlines()
    removed = [line for line in good if line not in broken]
    added = [line for line in broken if line not in good]
    old, new = SPEC_CHANGES[defect]
    units = 1 if defect == "config-replaced" else 4  # minion, master, syndic, api
    if old is None:
        assert removed == [], removed
    else:
        assert len(removed) == units and all(line.startswith(old) for line in removed), removed
    assert len(added) == units and all(line.startswith(new) for line in added), added
