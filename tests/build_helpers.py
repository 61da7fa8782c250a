"""Shared by the build tests and the build benchmark: build outputs reused while their
inputs are unchanged, and .deb sets compared file by file."""

from __future__ import annotations

import hashlib
import os
import subprocess
from pathlib import Path

from builds import abi_ceiling, layout, manifest, rpm
from builds.build import build_packages, current_digest, output_dir
from builds.locks import DEFAULT_SALT


def ensure_built(box: str, salt: str | None = DEFAULT_SALT, defect: str | None = None) -> Path:
    """dist/<output>/, built only when missing or built from other inputs."""
    out = output_dir(box, salt, defect)
    if not manifest.is_current(out, current_digest(box, salt, defect)):
        build_packages(box, salt, defect)  # which lets one build per output run at a time
    return out


def read_manifest(out: Path) -> dict:
    """The manifest of a dist dir, which must be there."""
    m = manifest.read(out)
    assert m is not None, f"no readable manifest in {out}"
    return m


def extract_debs(out: Path, dest: Path) -> dict[str, Path]:
    """Each package of a dist dir unpacked with dpkg-deb -R (files plus DEBIAN/)."""
    trees = {}
    m = read_manifest(out)
    for pkg in m["packages"]:
        tree = dest / pkg["name"]
        subprocess.run(["dpkg-deb", "-R", str(out / pkg["file"]), str(tree)], check=True)
        trees[pkg["name"]] = tree
    return trees


def _fingerprint(path: Path) -> str:
    if path.is_symlink():
        return "link:" + os.readlink(path)
    if path.is_dir():
        return f"dir:{path.stat().st_mode & 0o7777:o}"
    if path.suffix == ".pyc":
        # marshal output depends on refcounts, so bytecode is not byte-reproducible.
        return "pyc"
    data = path.read_bytes()
    if path.name == "control" and path.parent.name == "DEBIAN":
        data = b"\n".join(
            line for line in data.splitlines() if not line.startswith(b"Installed-Size:")
        )
    return f"{path.stat().st_mode & 0o7777:o}:{hashlib.sha256(data).hexdigest()}"


def _walk(root: Path) -> dict[str, str]:
    return {str(p.relative_to(root)): _fingerprint(p) for p in root.rglob("*")}


def tree_diff(good: dict[str, Path], bad: dict[str, Path]) -> dict[str, dict[str, str]]:
    """package -> {path: added|removed|changed} between two unpacked package sets."""
    diff: dict[str, dict[str, str]] = {}
    for name in sorted(set(good) | set(bad)):
        a = _walk(good[name]) if name in good else {}
        b = _walk(bad[name]) if name in bad else {}
        changes = {p: "removed" for p in a.keys() - b.keys()}
        changes.update({p: "added" for p in b.keys() - a.keys()})
        changes.update({p: "changed" for p in a.keys() & b.keys() if a[p] != b[p]})
        if changes:
            diff[name] = changes
    return diff


def scan_the_common_rpm(out: Path, m: dict, dest: Path, ceiling: str) -> abi_ceiling.AbiReport:
    """The common RPM of a portable set unpacked into dest and scanned against `ceiling`:
    the build's own gate found nothing, and neither does this scan."""
    assert m["abi"]["glibc_ceiling"] == ceiling and not m["abi"]["findings"]
    common = next(p["file"] for p in m["packages"] if p["name"] == layout.COMMON)
    rpm.unpack(out / common, dest)
    report = abi_ceiling.scan(dest, ceiling, portable=True)
    assert report.ok, [f.message for f in report.findings]
    return report


def rpmlint_errors(rpms) -> list[str]:
    """rpmlint's errors on the RPMs that builds/rpm/salt.rpmlintrc does not explain."""
    proc = subprocess.run(
        ["rpmlint", "-r", str(rpm.RPMLINTRC), *map(str, rpms)], capture_output=True, text=True
    )
    assert " packages and 0 specfiles checked" in proc.stdout, (
        proc.stdout[-500:] + proc.stderr[-500:]
    )
    # One filter file serves every target: EL6's filters go unused on debian12's RPMs.
    return [
        line
        for line in proc.stdout.splitlines()
        if ": E: " in line and "unused-rpmlintrc-filter" not in line
    ]
