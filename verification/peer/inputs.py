"""What Salt's own package tests need, fetched once on the host and cached: the suite, from
the sdist of the Salt version under test (tests/pytests/pkg, tests/support, requirements/),
and the wheels of its requirements (requirements/pytest.txt, locked with hashes in
verification/peer/locks/pkg-tests-KIND-salt-VERSION-pyX.Y.txt, held to the payload's own
pins).
The box never reaches the index: both are copied into it.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from builds import index
from builds.inputs import fetch_url, pip_download
from builds.locks import digest, parse_lock
from harness.errors import HarnessError
from harness.sources import cache_root, filling, sha256_file

PYTEST_TXT = "requirements/pytest.txt"
LOCKS = Path(__file__).resolve().parent / "locks"


# The runner's requirements (their requirements/pytest.txt), and what their tests install
# with salt-pip from PyPI (served to the box from a directory instead).
KINDS = ("runner", "installed")


def lock_path(salt: str, python_minor: str, kind: str = "runner") -> Path:
    return LOCKS / f"pkg-tests-{kind}-salt-{salt}-py{python_minor}.txt"


def sdist_of(salt: str, log: Path) -> Path:
    """Salt's sdist of version `salt`, by the hash the index gives (cached under sources/)."""
    files = [f for f in index.release_files("salt", salt) if f.tags is None]
    if not files:
        raise HarnessError(f"Salt {salt} has no sdist on {index.index_url()}: no suite to run")
    return fetch_url(files[0].url, files[0].sha256, log)


@dataclass(frozen=True)
class SuiteInputs:
    sdist: Path  # salt-VERSION.tar.gz: the suite runs from its tree, as from a checkout
    wheels: Path  # a directory of the runner's wheels
    lock: Path  # their pins, with hashes

    @property
    def top(self) -> str:
        """The sdist's top directory (salt-VERSION)."""
        return self.sdist.name.removesuffix(".tar.gz")


def fetch(
    salt: str, python_minor: str, glibc: str, log: Path, older_minor: str | None = None
) -> SuiteInputs:
    """The suite and its wheels for a box with this Python and glibc, cached by the locks.
    older_minor: the Python of the older line that stands in for the previous release, where
    it differs; their upgrade tests install with salt-pip on it before they upgrade, so what
    they install is served for that Python too."""
    wanted = [(kind, python_minor) for kind in KINDS]
    if older_minor not in (None, python_minor):
        wanted.append(("installed", older_minor))
    locks = {lock_path(salt, minor, kind): minor for kind, minor in wanted}
    texts = [_read_lock(lock, salt, minor) for lock, minor in locks.items()]
    tarball = sdist_of(salt, log)
    key = digest("pkg-tests-v1", *texts, sha256_file(tarball), python_minor, glibc)[:20]
    wheels = cache_root() / "pkg-tests" / key
    if not wheels.is_dir():
        with filling(wheels) as tmp:
            for lock, minor in locks.items():
                pip_download(lock, tmp, minor, glibc, log, f"fetching {lock.name}")
    return SuiteInputs(tarball, wheels, lock_path(salt, python_minor))


def _read_lock(lock: Path, salt: str, minor: str) -> str:
    if not lock.exists():
        raise HarnessError(
            f"no lock of Salt's package tests for Salt {salt} on Python {minor} "
            f"({lock.name}); make it: python -m verification.peer.lockgen --salt {salt} "
            f"--python {minor}"
        )
    text = lock.read_text()
    parse_lock(text, str(lock))
    return text
