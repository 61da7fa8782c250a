"""A small pure-Python wheel made on the spot: what an admin hands to salt-pip, served
offline (the boxes never reach an index)."""

from __future__ import annotations

import base64
import hashlib
import zipfile
from pathlib import Path

WHEEL_METADATA = "Wheel-Version: 1.0\nGenerator: salt-venv-harness\nRoot-Is-Purelib: true\n"
WHEEL_METADATA += "Tag: py3-none-any\n"


def _record_line(path: str, data: bytes) -> str:
    digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
    return f"{path},sha256={digest},{len(data)}"


def make_wheel(directory: Path, name: str, version: str, module: str) -> Path:
    """directory/NAME-VERSION-py3-none-any.whl holding one module NAME.py with `module`."""
    info = f"{name}-{version}.dist-info"
    files = {
        f"{name}.py": module.encode(),
        f"{info}/METADATA": f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n".encode(),
        f"{info}/WHEEL": WHEEL_METADATA.encode(),
    }
    record = [_record_line(path, data) for path, data in files.items()] + [f"{info}/RECORD,,"]
    files[f"{info}/RECORD"] = ("\n".join(record) + "\n").encode()
    wheel = directory / f"{name}-{version}-py3-none-any.whl"
    with zipfile.ZipFile(wheel, "w", zipfile.ZIP_DEFLATED) as archive:
        for path, data in files.items():
            archive.writestr(path, data)
    return wheel
