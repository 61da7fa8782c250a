"""Regenerate the lock of Salt's own package tests' runner (a maintainer's tool, like
builds.lockgen, whose resolver it uses: needs uv, `pip install uv`).

python -m verification.peer.lockgen                         # Salt 3008.4 on Python 3.11
python -m verification.peer.lockgen --salt 3008.4 --python 3.11

The requirements are the sdist's requirements/pytest.txt, held to the payload's own pins
(builds/locks/salt-VERSION-pyX.Y.txt): the runner and the payload agree on every
distribution they share.
"""

from __future__ import annotations

import argparse
import sys
import tarfile
import tempfile
from pathlib import Path

from builds.errors import BuildError
from builds.lockgen import _compiled
from builds.locks import DEFAULT_SALT, parse_lock, salt_lock

from .inputs import KINDS, PYTEST_TXT, lock_path, sdist_of
from .salt_pkg_tests import INSTALLED_BY_THEIR_TESTS


def pytest_requirements(tarball: Path) -> list[str]:
    """The requirement lines of an sdist's requirements/pytest.txt."""
    top = tarball.name.removesuffix(".tar.gz")
    with tarfile.open(tarball) as tar:
        member = tar.extractfile(f"{top}/{PYTEST_TXT}")
        if member is None:
            raise BuildError(f"{tarball.name} has no {PYTEST_TXT}")
        text = member.read().decode()
    lines = (line.split("#", 1)[0].strip() for line in text.splitlines())
    return [line for line in lines if line]


def compile_locks(salt: str, python_minor: str) -> list[Path]:
    """Both locks of the suite of `salt`: its runner's, and what its tests install."""
    with tempfile.TemporaryDirectory() as tmp:
        runner = pytest_requirements(sdist_of(salt, Path(tmp) / "fetch.log"))
    payload = parse_lock(salt_lock(salt, python_minor).read_text())
    held = tuple(f"{p.name}=={p.version}" for p in payload)
    what = {
        "runner": (runner, f"Salt {salt}'s {PYTEST_TXT}", False),
        # Their dependencies are the payload's: salt-pip resolves against it.
        "installed": (list(INSTALLED_BY_THEIR_TESTS), "what its tests install", True),
    }
    written = []
    for kind in KINDS:
        requirements, said, no_deps = what[kind]
        text = _compiled(requirements, python_minor, held, no_deps=no_deps)
        parse_lock(text, "the resolved lock")
        out = lock_path(salt, python_minor, kind)
        out.parent.mkdir(parents=True, exist_ok=True)
        header = f"# {said}, for Python {python_minor}, held to the payload's pins"
        out.write_text(f"{header}; regenerate: python -m verification.peer.lockgen\n{text}")
        written.append(out)
    return written


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(prog="python -m verification.peer.lockgen")
    ap.add_argument("--salt", default=DEFAULT_SALT)
    ap.add_argument("--python", default="3.11")
    args = ap.parse_args(argv)
    try:
        for lock in compile_locks(args.salt, args.python):
            print(lock)
    except BuildError as e:
        print(f"error: {e}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
