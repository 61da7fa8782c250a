"""Salt's onedir layout as our builder makes it (`harness build BOX --layout onedir`): what
each package holds and does, read from the staged trees and the generated scripts, without a
box."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest
import staged_payload

from builds import deb, defects, layout, rpm
from builds.build import output_name
from builds.payload import StagedPayload, files_tree
from harness import catalog

ONEDIR = "/opt/saltstack/salt"


def staged(shape: layout.Shape, box: str = "debian12") -> StagedPayload:
    return staged_payload.staged(box=box, shape=shape)


def test_each_tool_is_a_link_to_its_launcher_at_the_top_of_the_onedir(tmp_path):
    files_tree(staged(layout.ONEDIR), tmp_path)
    for sub in layout.SUBPACKAGES:
        for tool in sub.tools:
            link = tmp_path / sub.name / "usr/bin" / tool
            assert link.is_symlink() and str(link.readlink()) == f"{ONEDIR}/{tool}", link
            launcher = tmp_path / layout.COMMON / ONEDIR.lstrip("/") / tool
            assert launcher.stat().st_mode & 0o777 == 0o755
            assert launcher.read_text().rstrip().endswith(f'exec {ONEDIR}/bin/{tool} "$@"')
    # Ours keeps its wrappers: files in /usr/bin, nothing at the top of /opt/salt.
    files_tree(staged(layout.VENV), tmp_path / "venv")
    wrapper = tmp_path / "venv/salt-minion/usr/bin/salt-minion"
    assert not wrapper.is_symlink() and "exec /opt/salt/bin/salt-minion" in wrapper.read_text()
    assert not (tmp_path / "venv/salt/opt").exists()


def test_the_master_runs_as_salt_and_may_enter_the_key_store(tmp_path):
    files_tree(staged(layout.ONEDIR), tmp_path / "onedir")
    files_tree(staged(layout.VENV), tmp_path / "venv")
    master = (tmp_path / "onedir/salt-master/etc/salt/master").read_text()
    assert "\nuser: salt\n" in master and master.rstrip().endswith("syndic_user: root")
    assert "\nuser:" not in (tmp_path / "venv/salt-master/etc/salt/master").read_text()
    pki = "salt/etc/salt/pki"
    assert (tmp_path / "onedir" / pki).stat().st_mode & 0o777 == 0o750
    assert (tmp_path / "venv" / pki).stat().st_mode & 0o777 == 0o700


def test_the_debs_are_named_and_scripted_as_salts_own():
    onedir = staged(layout.ONEDIR)
    common, minion = onedir.packages[layout.COMMON], onedir.packages["salt-minion"]
    assert deb.package_name(layout.COMMON, layout.ONEDIR) == "salt-common"
    assert deb.depends_of(minion, "3008.4-1", [], layout.ONEDIR)[0] == "salt-common (= 3008.4-1)"
    pre = deb.preinst(common) or ""
    assert "install|upgrade)" in pre and "useradd --system" in pre and f"--home-dir {ONEDIR}" in pre
    post = deb.postinst(common, layout.ONEDIR) or ""
    assert "chgrp salt /etc/salt/pki" in post
    assert f"{ONEDIR}/bin/python3 {ONEDIR}/share/salt-pip/carry_extras.py" in post
    assert f"rm -rf {ONEDIR}" in (deb.postrm(common, layout.ONEDIR) or "")
    for script in (pre, post):
        subprocess.run(["sh", "-n"], input=script, text=True, check=True)
    ours = staged(layout.VENV).packages[layout.COMMON]
    assert deb.preinst(ours) is None and "chgrp" not in (deb.postinst(ours) or "")


def test_the_spec_is_told_the_prefix_the_user_and_the_key_stores_group():
    argv = rpm.rpmbuild_argv(staged(layout.ONEDIR, "centos7"), "/top")
    defines = dict(argv[i + 1].split(" ", 1) for i, a in enumerate(argv) if a == "--define")
    assert defines["salt_prefix"] == ONEDIR
    assert defines["pki_mode"] == "0750" and defines["pki_group"] == "salt"
    assert "useradd --system" in defines["salt_pre_install"]
    assert defines["carry_extras"] == f"{ONEDIR}/share/salt-pip/carry_extras.py"
    ours = rpm.rpmbuild_argv(staged(layout.VENV, "centos7"), "/top")
    assert not {"salt_prefix", "pki_mode", "salt_pre_install"} & set(
        ours[i + 1].split(" ", 1)[0] for i, a in enumerate(ours) if a == "--define"
    )


def test_onedir_sets_have_their_own_names():
    assert output_name("debian12", layout="onedir") == "debian12-onedir"
    assert output_name("centos7", "3006.29", layout="onedir") == "centos7-onedir-salt-3006.29"
    assert output_name("debian12", layout="venv") == "debian12"
    assert output_name("debian12", defect="conffile", layout="onedir") == (
        "debian12-onedir-defect-conffile"
    )


# /opt/salt as a path of its own, not the start of /opt/saltstack.
OUR_PREFIX = re.compile(r"/opt/salt(?![A-Za-z0-9_.-])")


def tree_of(defect: str | None, dest: Path) -> dict[str, str]:
    files_tree(staged_payload.staged(defect, shape=layout.ONEDIR), dest)
    return {
        str(p.relative_to(dest)): p.read_text() if p.is_file() else "<dir or link>"
        for p in dest.rglob("*")
    }


def test_every_defect_breaks_the_onedir_where_the_onedir_has_the_broken_part(tmp_path):
    good = tree_of(None, tmp_path / "good")
    launchers = {f"salt{ONEDIR}/{t}" for sub in layout.SUBPACKAGES for t in sub.tools}
    for defect in ("wrapper-pythonpath", "ld-export", "unit-path", "stop-signal"):
        broken = tree_of(defect, tmp_path / defect)
        changed = {k for k in good.keys() | broken.keys() if good.get(k) != broken.get(k)}
        assert changed, defect
        assert not any(OUR_PREFIX.search(broken[k]) for k in changed), defect
        if defect == "wrapper-pythonpath":
            assert changed == launchers
            assert (
                f"PYTHONPATH={defects.DISTRO_DIST_PACKAGES}\nexec {ONEDIR}/bin/"
                in (broken[f"salt{ONEDIR}/salt-minion"])
            )
        if defect == "ld-export":
            assert broken["salt/etc/ld.so.conf.d/salt.conf"] == f"{ONEDIR}/lib\n"
    described = {
        d: staged_payload.staged(d, shape=layout.ONEDIR).packages[layout.COMMON].post_install
        for d in ("extras-wiped", "distro-clobber")
    }
    assert described["extras-wiped"][-1] == f"rm -rf {ONEDIR}/extras-3.11/*"
    assert f"{ONEDIR}/lib/python3.11/site-packages/tornado" in described["distro-clobber"][-1]
    venv = f"/stage/salt{ONEDIR}"
    for name, transform in defects.TRANSFORMS.items():
        command = transform.venv(staged_payload.staged(name, shape=layout.ONEDIR), venv, "3.11")
        assert not OUR_PREFIX.search(command or ""), name


@pytest.mark.parametrize(
    "args, line",
    [
        (["debian12", "--layout", "flat"], "Invalid value for '--layout'"),
        (["debian12", "--layout", "onedir", "--defect", "nope"], "unknown defect 'nope'"),
    ],
)
def test_a_bad_layout_request_is_one_line(args, line):
    root = Path(__file__).resolve().parents[1]
    proc = subprocess.run(
        [sys.executable, "-m", "signoff.cli", "build", *args],
        cwd=root,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode != 0 and line in proc.stderr
    assert "Traceback" not in proc.stderr


def test_onedir_debs_are_versioned_as_salt_is_and_rpms_keep_a_release():
    debian12 = catalog.load_box("debian12")
    onedir = debian12.for_layout("onedir")
    assert layout.package_version("3008.4", onedir) == "3008.4"
    assert layout.prerelease_order("3008.4", onedir) == ["3008.4~rc1", "3008.4"]
    assert layout.package_version("3008.4", debian12) == "3008.4-1"
    centos7 = catalog.load_box("centos7").for_layout("onedir")
    assert layout.package_version("3008.4", centos7) == "3008.4-1"
