"""manifest.json of a build output directory: what was built from what.

Other code reads these keys (a contract): box, salt_version, python_version,
bundled_interpreter, defect, package_format, built_at, packages [{name, version, arch,
file, sha256, size}], bundled {canonical dist name: version}. Added here: inputs_digest
(lets a test or CI reuse an output whose inputs have not changed), package_version,
unit_dir, system_python, build_seconds.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

from .inputs import sha256_file
from .locks import build_lock, digest, salt_lock

MANIFEST = "manifest.json"
BUILDS_DIR = Path(__file__).resolve().parent


def inputs_digest(box, salt_version: str, defect: str | None, package_format: str) -> str:
    """Everything that decides the packages' content: the box, the locks, the recipes."""
    from .formats import FORMATS, format_module
    from .payload import python_minor

    minor = python_minor(box)
    # Each format's own recipe counts for its packages only.
    others = {
        f for other in FORMATS if other != package_format for f in format_module(other).recipe()
    }
    # The shell recipes too (the portable CPython's, the zig wrappers): a changed recipe
    # rebuilds the packages that carry what it built.
    common = [
        *BUILDS_DIR.glob("*.py"),
        *BUILDS_DIR.glob("*.sh"),
        *(BUILDS_DIR / "files").rglob("*"),
    ]
    if defect is None:  # the variants' catalog: a good build takes nothing from it
        common.remove(BUILDS_DIR / "defects.py")
    recipe = sorted({p for p in common if p.is_file()} - others)
    recipe += sorted(set(format_module(package_format).recipe()) - set(common))
    parts = [
        box.model_dump_json(),
        salt_version,
        defect or "",
        package_format,
        salt_lock(salt_version, minor).read_text(),
        build_lock(minor).read_text(),
    ]
    parts += [f"{p.relative_to(BUILDS_DIR)}\0{p.read_text(errors='replace')}" for p in recipe]
    return digest("manifest-v1", *parts)[:32]


def package_entry(path: Path, name: str, version: str, arch: str) -> dict:
    return {
        "name": name,
        "version": version,
        "arch": arch,
        "file": path.name,
        "sha256": sha256_file(path),
        "size": path.stat().st_size,
    }


def make(staged, package_format: str, packages: list[dict], digest_: str, seconds: float) -> dict:
    return {
        "box": staged.box,
        "salt_version": staged.salt_version,
        "python_version": staged.python_version,
        "bundled_interpreter": staged.bundled_interpreter,
        "defect": staged.defect,
        "package_format": package_format,
        "built_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "packages": packages,
        "bundled": dict(sorted(staged.bundled.items())),
        "package_version": staged.version,
        "unit_dir": staged.unit_dir,
        "system_python": staged.system_python,
        "inputs_digest": digest_,
        "build_seconds": round(seconds, 1),
        "venv_of_the_good_build": staged.venv_of_the_good_build,
        "prerelease_order": staged.prerelease_order,
        "layout": staged.shape.name,
        "prefix": staged.shape.prefix,
    }


def write(out_dir: Path, manifest: dict):
    (out_dir / MANIFEST).write_text(json.dumps(manifest, indent=2) + "\n")


def read(out_dir: Path) -> dict | None:
    try:
        return json.loads((out_dir / MANIFEST).read_text())
    except (OSError, ValueError):
        return None


def is_current(out_dir: Path, digest_: str) -> bool:
    """True when out_dir holds a complete build of exactly these inputs."""
    m = read(out_dir)
    if not m or m.get("inputs_digest") != digest_:
        return False
    for pkg in m.get("packages", []):
        f = out_dir / pkg["file"]
        if not f.is_file() or f.stat().st_size != pkg["size"]:
            return False
    return bool(m.get("packages"))
