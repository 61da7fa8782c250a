"""builds/files/as_published.py, the build's filter of files that keep a wheel builder's
/tmp/pip- paths: exempt only a file byte-for-byte as a published (manylinux) wheel has it."""

from __future__ import annotations

import base64
import hashlib
import os
import subprocess
import sys
from pathlib import Path

SCRIPT = Path(__file__).resolve().parent.parent / "builds" / "files" / "as_published.py"


def record_hash(data: bytes) -> str:
    return base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()


def distribution(site: Path, name: str, tag: str, files: dict[str, bytes], recorded=None):
    """A dist-info of `name` tagged `tag`, its RECORD hashing `recorded` (default: files)."""
    info = site / f"{name}-1.0.dist-info"
    info.mkdir(parents=True)
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {name}\nVersion: 1.0\n")
    (info / "WHEEL").write_text(f"Wheel-Version: 1.0\nRoot-Is-Purelib: false\nTag: {tag}\n")
    rows = []
    for path, data in files.items():
        (site / path).parent.mkdir(parents=True, exist_ok=True)
        (site / path).write_bytes(data)
        hashed = (recorded or files)[path]
        rows.append(f"{path},sha256={record_hash(hashed)},{len(hashed)}")
    (info / "RECORD").write_text("\n".join(rows) + f"\n{info.name}/RECORD,,\n")


def unpublished(site: Path, paths: list[Path]) -> list[str]:
    env = dict(os.environ, PYTHONPATH=str(site))
    result = subprocess.run(
        [sys.executable, str(SCRIPT)],
        input="\n".join(str(p) for p in paths),
        capture_output=True,
        text=True,
        env=env,
        check=True,
    )
    return result.stdout.split()


def test_only_files_as_their_published_wheel_has_them_are_exempt(tmp_path):
    site = tmp_path / "site-packages"
    kept = b"built in /tmp/pip-req-build-x1/src"
    distribution(site, "published", "cp39-cp39-manylinux2010_x86_64", {"published/_c.so": kept})
    # The same bytes, but the RECORD hashed something else: changed after install.
    distribution(
        site,
        "edited",
        "cp39-cp39-manylinux1_x86_64",
        {"edited/_c.so": kept},
        recorded={"edited/_c.so": b"what the wheel shipped"},
    )
    # A wheel compiled here is tagged linux_x86_64: its build paths are ours to clean.
    distribution(site, "ours", "cp39-cp39-linux_x86_64", {"ours/_c.so": kept})
    stray = site / "stray.txt"
    stray.write_bytes(kept)
    paths = [site / "published/_c.so", site / "edited/_c.so", site / "ours/_c.so", stray]
    assert unpublished(site, paths) == [str(p) for p in paths[1:]]
