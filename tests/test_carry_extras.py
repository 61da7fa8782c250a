"""builds/files/carry_extras.py, which the package scripts run after every package change,
on a prefix laid out as /opt/salt is: extras of another minor move or are named."""

from __future__ import annotations

import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

from builds import extras
from verification.wheel import make_wheel

MINOR = "{}.{}".format(*sys.version_info)
OLD = "3.9"


def prefix_with_extras(tmp_path: Path) -> Path:
    """tmp/opt-salt with the carry script, this interpreter's (empty) extras, and extras-3.9
    holding a pure-Python extra, one built for 3.9, and a file of the admin's own."""
    prefix = tmp_path / "opt-salt"
    (prefix / "share/salt-pip").mkdir(parents=True)
    shutil.copy(extras.CARRY, prefix / "share/salt-pip/carry_extras.py")
    (prefix / f"extras-{MINOR}").mkdir()
    old = prefix / f"extras-{OLD}"
    wheels = [
        make_wheel(tmp_path, "pure_one", "1.0", {"pure_one/__init__.py": "X = 1\n"}),
        make_wheel(
            tmp_path, "native_one", "2.0", {"native_one.py": ""}, tag="cp39-cp39-linux_x86_64"
        ),
    ]
    for wheel in wheels:
        zipfile.ZipFile(wheel).extractall(old)
    (old / "pure_one/__pycache__").mkdir()
    (old / "pure_one/__pycache__/__init__.cpython-39.pyc").write_bytes(b"stale")
    (old / "notes.txt").write_text("the admin's\n")
    return prefix


def carry(prefix: Path) -> list[str]:
    script = prefix / "share/salt-pip/carry_extras.py"
    proc = subprocess.run([sys.executable, script], capture_output=True, text=True, check=True)
    return proc.stdout.splitlines()


def test_pure_extras_move_and_one_line_names_each_built_for_the_old_minor(tmp_path):
    prefix = prefix_with_extras(tmp_path)
    said = carry(prefix)
    new, old = prefix / f"extras-{MINOR}", prefix / f"extras-{OLD}"
    assert (new / "pure_one/__init__.py").read_text() == "X = 1\n"
    assert (new / "pure_one-1.0.dist-info/RECORD").is_file()
    assert not (new / "pure_one/__pycache__").exists()  # the old minor's bytecode goes
    assert sorted(p.name for p in old.iterdir()) == [
        "native_one-2.0.dist-info",
        "native_one.py",
        "notes.txt",
    ]
    assert said == [
        f"salt-pip: moved pure_one==1.0 from {old} to {new}",
        f"salt-pip: native_one==2.0 in {old} is built for another Python than /opt/salt's "
        f"{MINOR}: reinstall with `salt-pip install native_one==2.0`",
    ]
    assert carry(prefix)[-1:] == said[-1:]  # run again: nothing moves, the advice stays


def test_an_emptied_old_extras_directory_goes_and_a_reinstalled_extra_wins(tmp_path):
    prefix = prefix_with_extras(tmp_path)
    old = prefix / f"extras-{OLD}"
    for leftover in ("native_one-2.0.dist-info", "native_one.py", "notes.txt"):
        path = old / leftover
        shutil.rmtree(path) if path.is_dir() else path.unlink()
    mine = prefix / f"extras-{MINOR}/pure_one"
    mine.mkdir()
    (mine / "__init__.py").write_text("X = 2\n")
    carry(prefix)
    assert (mine / "__init__.py").read_text() == "X = 2\n"
    assert not old.exists()


def test_nothing_to_carry_says_nothing(tmp_path):
    prefix = tmp_path / "opt-salt"
    (prefix / "share/salt-pip").mkdir(parents=True)
    shutil.copy(extras.CARRY, prefix / "share/salt-pip/carry_extras.py")
    (prefix / f"extras-{MINOR}").mkdir()
    assert carry(prefix) == []
