"""Any directory of packages: what the suites need is read from the package files, and a
directory that is not one package set is refused in one line before any box starts."""

from __future__ import annotations

import dataclasses
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from harness import paths
from verification import package_dir
from verification.packages import PackageSet

# The sets CI builds before the tests: ours, held to their manifest.
OURS = ["debian12", "centos7", "centos6", "centos5"]


def built(box: str, *variant: str) -> Path:
    directory = paths.package_set_dir(box, *variant)
    if not (directory / "manifest.json").exists():
        pytest.fail(
            f"no packages in {directory}: build them with harness build {box}", pytrace=False
        )
    return directory


def without_manifest(source: Path, target: Path, drop: str = "") -> Path:
    """The package files of SOURCE in TARGET, as a team that builds elsewhere hands them
    over: no manifest.json; DROP names a package file left out."""
    target.mkdir(parents=True, exist_ok=True)
    for f in source.iterdir():
        if f.suffix in (".deb", ".rpm") and not (drop and f.name.startswith(drop)):
            shutil.copy(f, target / f.name)
    return target


def verify(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "signoff.cli", "verify", *args],
        capture_output=True,
        text=True,
        cwd=paths.REPO_ROOT,
        timeout=300,
    )


@pytest.mark.parametrize("box", OURS)
def test_our_packages_read_without_their_manifest_as_their_build_declares_them(box, tmp_path):
    """The reader finds in the files exactly the layout our build promises: prefix,
    Python, Salt's version, every bundled distribution, commands, services, configs."""
    ours = PackageSet.load(built(box), box)
    manifest, read = package_dir.describe(without_manifest(built(box), tmp_path))
    assert dataclasses.asdict(read) == dataclasses.asdict(ours.layout)
    assert manifest["salt_version"] == ours.salt_version
    assert [(p["name"], p["version"], p["sha256"]) for p in manifest["packages"]] == [
        (p["name"], p["version"], p["sha256"])
        for p in sorted(ours.manifest["packages"], key=lambda p: p["file"])
    ]


def refusal(tmp_path: Path, directory: Path, box: str = "debian12", *more: str) -> str:
    result = verify("--box", box, "--packages", str(directory), *more)
    assert result.returncode == 1, result.stdout + result.stderr
    assert "Traceback" not in result.stderr, result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), result.stderr
    return lines[0]


def test_a_set_with_a_package_missing_is_one_line(tmp_path):
    directory = without_manifest(built("debian12"), tmp_path / "set", drop="salt_")
    version = PackageSet.load(built("debian12")).version()
    assert refusal(tmp_path, directory) == (
        f"error: {directory}: salt-api requires salt = {version}, which is not there: add "
        "salt's package"
    )


def test_a_split_set_without_one_role_is_one_line(tmp_path):
    directory = without_manifest(built("debian12"), tmp_path / "set", drop="salt-syndic_")
    assert refusal(tmp_path, directory) == (
        f"error: {directory} holds Salt split into packages but not salt-syndic: add the "
        "missing package(s)"
    )


def test_mixed_formats_are_one_line(tmp_path):
    directory = without_manifest(built("debian12"), tmp_path / "set")
    shutil.copy(next(built("centos7").glob("salt-minion-*.rpm")), directory)
    assert refusal(tmp_path, directory) == (
        f"error: {directory} mixes package formats (7 .deb and 1 .rpm): give one format per "
        "directory"
    )


def test_packages_of_two_salt_versions_are_one_line(tmp_path):
    older = next(
        p for p in paths.dist_dir().glob("debian12-salt-*") if (p / "manifest.json").exists()
    )
    directory = without_manifest(built("debian12"), tmp_path / "set", drop="salt-master_")
    shutil.copy(next(older.glob("salt-master_*.deb")), directory)
    line = refusal(tmp_path, directory)
    assert line.startswith(f"error: {directory} holds packages of 2 versions ("), line
    assert line.endswith("): keep one Salt version per directory"), line


def test_packages_for_another_format_than_the_box_installs_are_one_line(tmp_path):
    directory = without_manifest(built("centos7"), tmp_path / "set")
    assert refusal(tmp_path, directory) == (
        f"error: {directory} holds .rpm packages; debian12 installs .deb "
        "(pass --packages for the right box)"
    )


def test_an_unknown_key_in_packages_toml_is_one_line(tmp_path):
    directory = without_manifest(built("debian12"), tmp_path / "set")
    (directory / "packages.toml").write_text('box = "debian12"\nprefixes = "/opt/salt"\n')
    assert refusal(tmp_path, directory) == (
        f"error: {directory / 'packages.toml'}: unknown key 'prefixes'; known: box, prefix, "
        "older_line"
    )


def test_a_prefix_that_holds_no_salt_is_one_line(tmp_path):
    directory = without_manifest(built("debian12"), tmp_path / "set")
    result = verify(
        "--box", "debian12", "--packages", str(directory), "--prefix", "/opt/venvs/salt"
    )
    assert result.returncode == 1 and "Traceback" not in result.stderr, result.stderr
    assert result.stderr.strip() == (
        f"error: no package in {directory} holds Salt (PREFIX/lib/pythonX.Y/site-packages/salt/"
        "__init__.py under /opt/venvs/salt): give the packages that bundle it"
    )


def onedir_like_deb(
    directory: Path, name: str, files: dict[str, str], links: dict[str, str]
) -> None:
    """A small DEB laid out as Salt's own onedir packages are (built here with dpkg-deb)."""
    root = directory.parent / f"{name}-root"
    for path, text in files.items():
        (root / path.lstrip("/")).parent.mkdir(parents=True, exist_ok=True)
        (root / path.lstrip("/")).write_text(text)
    for path, target in links.items():
        (root / path.lstrip("/")).parent.mkdir(parents=True, exist_ok=True)
        (root / path.lstrip("/")).symlink_to(target)
    depends = "" if name == "salt-common" else "Depends: salt-common (= 3007.1)\n"
    (root / "DEBIAN").mkdir()
    (root / "DEBIAN" / "control").write_text(
        f"Package: {name}\nVersion: 3007.1\nArchitecture: amd64\nMaintainer: t <t@t>\n"
        f"{depends}Description: a package laid out as Salt's onedir ones\n"
    )
    deb = directory / f"{name}.deb"
    subprocess.run(
        ["dpkg-deb", "-b", "-Zgzip", str(root), str(deb)], check=True, capture_output=True
    )


def test_salts_onedir_layout_is_read_from_the_files(tmp_path):
    onedir, site = "/opt/saltstack/salt", "/opt/saltstack/salt/lib/python3.10/site-packages"
    directory = tmp_path / "onedir"
    directory.mkdir()
    onedir_like_deb(
        directory,
        "salt-common",
        {
            f"{site}/salt/__init__.py": "",
            f"{site}/salt-3007.1.dist-info/METADATA": "",
            f"{site}/PyYAML-6.0.1.dist-info/METADATA": "",
            f"{onedir}/bin/python3.10": "",
            f"{onedir}/salt-call": "#!/bin/sh\n",
            f"{onedir}/salt-pip": "#!/bin/sh\n",
            "/etc/logrotate.d/salt-common": "",
        },
        {f"{onedir}/bin/python3": "python3.10", "/usr/bin/salt-call": f"{onedir}/salt-call"},
    )
    for role in package_dir.ROLES:
        daemon = {"salt-minion", "salt-master", "salt-syndic", "salt-api"} & {role}
        onedir_like_deb(
            directory,
            role,
            {f"/lib/systemd/system/{role}.service": "", f"{onedir}/{role}": "#!/bin/sh\n"}
            if daemon
            else {f"{onedir}/{role}": "#!/bin/sh\n"},
            {f"/usr/bin/{role}": f"{onedir}/{role}"},
        )
    manifest, layout = package_dir.describe(directory)
    assert (layout.prefix, layout.python_version, layout.salt_version) == (onedir, "3.10", "3007.1")
    assert layout.common == "salt-common" and layout.bundled_interpreter
    assert layout.interpreter == f"{onedir}/bin/python3"
    assert layout.bundled == {"salt": "3007.1", "pyyaml": "6.0.1"}
    assert layout.commands["salt-call"] == "/usr/bin/salt-call"
    assert layout.commands["salt-minion"] == "/usr/bin/salt-minion"
    assert layout.salt_pip == f"{onedir}/salt-pip" and layout.extras_dir == f"{onedir}/extras-3.10"
    assert layout.services == {
        d: d for d in ("salt-minion", "salt-master", "salt-syndic", "salt-api")
    }
    assert layout.daemons == ("salt-minion", "salt-master", "salt-syndic", "salt-api")
    assert layout.logrotate == ("/etc/logrotate.d/salt-common",)
    assert manifest["python_version"] == "3.10" and manifest["prefix"] == onedir


def test_one_set_for_boxes_that_verify_different_packages_is_one_line(tmp_path):
    line = refusal(tmp_path, built("debian12"), box="debian12,centos7-rpm")
    assert line == (
        f"error: --packages {built('debian12')} holds one box's packages; boxes that verify "
        "different packages need a directory with one subdirectory per box"
    )


def test_salts_package_tests_refuse_a_set_outside_the_onedir_layout(tmp_path):
    # Their suite finds Salt where Salt's packages put it: a venv set is refused before a box
    # starts, naming the build that makes the layout.
    line = refusal(tmp_path, built("debian12"), "debian12", "--peer", "salt-pkg-tests")
    assert line == (
        "error: Salt's package tests need Salt's onedir layout (/opt/saltstack/salt); "
        f"{built('debian12')} holds Salt in /opt/salt: build it with harness build debian12 "
        "--layout onedir"
    )
