"""A small pure-Python wheel made on the spot: what an admin hands to salt-pip, served
offline (the boxes never reach an index)."""

from __future__ import annotations

import base64
import hashlib
import re
import zipfile
from pathlib import Path

PURE = "py3-none-any"


def _record_line(path: str, data: bytes) -> str:
    digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
    return f"{path},sha256={digest},{len(data)}"


def make_wheel(
    directory: Path,
    name: str,
    version: str,
    files: dict[str, str],
    entry_points: str = "",
    tag: str = PURE,
) -> Path:
    """directory/NAME-VERSION-TAG.whl holding `files` (path in the wheel: text), with an
    entry_points.txt when `entry_points` is given. A tag other than py3-none-any marks it
    built for one interpreter and platform, as a wheel with a C extension is."""
    stem = re.sub(r"[-_.]+", "_", name)  # a wheel's file and .dist-info name: PEP 427
    info = f"{stem}-{version}.dist-info"
    contents = {path: text.encode() for path, text in files.items()}
    contents[f"{info}/METADATA"] = (
        f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n".encode()
    )
    purelib = "true" if tag == PURE else "false"
    contents[f"{info}/WHEEL"] = (
        "Wheel-Version: 1.0\nGenerator: salt-venv-harness\n"
        f"Root-Is-Purelib: {purelib}\nTag: {tag}\n"
    ).encode()
    if entry_points:
        contents[f"{info}/entry_points.txt"] = entry_points.encode()
    record = [_record_line(path, data) for path, data in contents.items()] + [f"{info}/RECORD,,"]
    contents[f"{info}/RECORD"] = ("\n".join(record) + "\n").encode()
    wheel = directory / f"{stem}-{version}-{tag}.whl"
    with zipfile.ZipFile(wheel, "w", zipfile.ZIP_DEFLATED) as archive:
        for path, data in contents.items():
            archive.writestr(path, data)
    return wheel
