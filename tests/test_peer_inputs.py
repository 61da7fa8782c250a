"""What Salt's own package tests need: their requirements read from the sdist, and a missing
lock refused in one line that names the command making it."""

from __future__ import annotations

import io
import tarfile

import pytest

from builds.locks import parse_lock
from harness.errors import HarnessError
from verification.peer import inputs, lockgen


def test_the_runner_requirements_are_the_sdists_pytest_txt(tmp_path):
    tarball = tmp_path / "salt-3008.4.tar.gz"
    text = b"# PyTest\npytest >= 8.4.2, <9\n\npytest-salt-factories >= 1.0.5  # factories\n"
    with tarfile.open(tarball, "w:gz") as tar:
        member = tarfile.TarInfo("salt-3008.4/requirements/pytest.txt")
        member.size = len(text)
        tar.addfile(member, io.BytesIO(text))
    assert lockgen.pytest_requirements(tarball) == [
        "pytest >= 8.4.2, <9",
        "pytest-salt-factories >= 1.0.5",
    ]


def test_a_salt_version_without_a_lock_is_one_line(tmp_path, monkeypatch):
    monkeypatch.setattr(inputs, "LOCKS", tmp_path)
    with pytest.raises(HarnessError) as refused:
        inputs.fetch("3007.16", "3.11", "2.36", tmp_path / "fetch.log")
    assert str(refused.value) == (
        "no lock of Salt's package tests for Salt 3007.16 on Python 3.11 "
        "(pkg-tests-runner-salt-3007.16-py3.11.txt); make it: python -m "
        "verification.peer.lockgen --salt 3007.16 --python 3.11"
    )


def test_the_older_lines_python_needs_its_own_lock_of_what_their_tests_install(tmp_path):
    # Their upgrade tests salt-pip install on the older line before upgrading: a Python of its
    # own needs wheels of its own (Deprecated 3 wants Python 3.12 and up).
    with pytest.raises(HarnessError) as refused:
        inputs.fetch("3008.4", "3.13", "2.41", tmp_path / "fetch.log", older_minor="3.9")
    assert "(pkg-tests-installed-salt-3008.4-py3.9.txt)" in str(refused.value)
    assert "--salt 3008.4 --python 3.9" in str(refused.value)


def test_the_shipped_locks_pin_every_requirement_with_a_hash():
    for kind in inputs.KINDS:
        lock = inputs.lock_path("3008.4", "3.11", kind)
        pins = parse_lock(lock.read_text(), str(lock))
        assert pins and all(p.hashes for p in pins), lock
