"""A directory of packages that carries no manifest of ours: what the suites need, read from
the package files, and a one-line refusal for a directory that is not one package set (no
package, two formats, two versions, a package missing).

What the files cannot say goes in packages.toml next to them, or in options:
    box = "debian12"              # the box they are for
    prefix = "/opt/venvs/salt"    # which Salt, where the packages hold several
    older_line = "../salt-3007"   # the older line's directory, for the upgrade checks
"""

from __future__ import annotations

import hashlib
import tomllib
from collections import defaultdict
from pathlib import Path

from builds.layout import COMMON, SUBPACKAGES
from harness.errors import HarnessError

from . import package_files
from .payload_layout import PayloadLayout, read

SETTINGS_FILE = "packages.toml"
SETTINGS = {"box": str, "prefix": str, "older_line": str}
# Salt's split into packages (ours, and Salt's own onedir packages): a set split at all
# brings every role, else the checks of the missing one would pass by absence.
ROLES = tuple(p.name for p in SUBPACKAGES if p.name != COMMON)


def holds_packages(directory: Path) -> bool:
    return directory.is_dir() and any(package_files.format_of(p) for p in directory.iterdir())


def settings(directory: Path) -> dict[str, str]:
    """packages.toml of DIR, checked: {} when there is none."""
    path = directory / SETTINGS_FILE
    if not path.is_file():
        return {}
    try:
        found = tomllib.loads(path.read_text())
    except tomllib.TOMLDecodeError as e:
        raise HarnessError(f"{path}: not valid TOML ({e})") from None
    for key, value in found.items():
        if key not in SETTINGS:
            raise HarnessError(f"{path}: unknown key {key!r}; known: {', '.join(SETTINGS)}")
        if not isinstance(value, SETTINGS[key]):
            raise HarnessError(f"{path}: {key} must be a string, not {value!r}")
    return found


def package_paths(directory: Path) -> list[Path]:
    """The package files of DIR, all of one format."""
    files = sorted(p for p in directory.iterdir() if package_files.format_of(p))
    if not files:
        raise HarnessError(
            f"no .deb or .rpm file in {directory}: give a directory of packages "
            "(or build ours with harness build BOX)"
        )
    by_format = defaultdict(list)
    for p in files:
        by_format[p.suffix].append(p.name)
    if len(by_format) > 1:
        counts = " and ".join(f"{len(v)} {k}" for k, v in sorted(by_format.items()))
        raise HarnessError(
            f"{directory} mixes package formats ({counts}): give one format per directory"
        )
    return files


def one_set(directory: Path, headers: dict[Path, package_files.Header]) -> None:
    """One version of each package, every package at one version, nothing required missing."""
    by_name = defaultdict(list)
    for path, h in headers.items():
        by_name[h.name].append(f"{h.version} ({path.name})")
    for name, found in by_name.items():
        if len(found) > 1:
            raise HarnessError(f"{directory} holds {name} twice: {', '.join(found)}; keep one")
    versions = defaultdict(list)
    for h in headers.values():
        versions[h.version].append(h.name)
    if len(versions) > 1:
        shown = "; ".join(f"{v}: {', '.join(sorted(n))}" for v, n in sorted(versions.items()))
        raise HarnessError(
            f"{directory} holds packages of {len(versions)} versions ({shown}): "
            "keep one Salt version per directory"
        )
    missing_sibling(directory, headers)


def missing_sibling(directory: Path, headers: dict[Path, package_files.Header]) -> None:
    """A package required at exactly the set's version (a sibling) and absent, or a split
    set without one of Salt's roles."""
    names = {h.name for h in headers.values()}
    provided = names | {
        p.name for path in headers for p in package_files.relations(path)["provides"]
    }
    version = next(iter(headers.values())).version
    for path, h in headers.items():
        for need in package_files.relations(path)["requires"]:
            if need.version and version.endswith(need.version) and need.name not in provided:
                raise HarnessError(
                    f"{directory}: {h.name} requires {need.name} = {need.version}, which is "
                    f"not there: add {need.name}'s package"
                )
    split = names & set(ROLES)
    if split and split != set(ROLES):
        absent = ", ".join(r for r in ROLES if r not in names)
        raise HarnessError(
            f"{directory} holds Salt split into packages but not {absent}: add the missing "
            "package(s)"
        )


def layout_of(directory: Path, prefix: str | None = None) -> PayloadLayout:
    """The layout of a directory without manifest.json, once it is found one package set."""
    files = package_paths(directory)
    headers = {p: package_files.header(p) for p in files}
    one_set(directory, headers)
    payloads = {headers[p].name: package_files.entries(p) for p in files}
    return read(payloads, str(directory), prefix or settings(directory).get("prefix"))


def describe(directory: Path, prefix: str | None = None) -> tuple[dict, PayloadLayout]:
    """The manifest-like record of a directory without manifest.json (every file's sha256
    among it), and its layout."""
    layout = layout_of(directory, prefix)
    chosen = settings(directory)
    files = package_paths(directory)
    manifest = {
        "box": chosen.get("box"),
        "salt_version": layout.salt_version,
        "python_version": layout.python_version,
        "bundled_interpreter": layout.bundled_interpreter,
        "package_format": files[0].suffix[1:],
        "prefix": layout.prefix,
        "read_from": "the package files (no manifest.json)",
        "packages": [_record(p, package_files.header(p)) for p in files],
        "bundled": dict(layout.bundled),
    }
    if "older_line" in chosen:
        manifest["older_line"] = str((directory / chosen["older_line"]).resolve())
    return manifest, layout


def _record(path: Path, header: package_files.Header) -> dict:
    return {
        "name": header.name,
        "version": header.version,
        "arch": header.arch,
        "file": path.name,
        "sha256": hashlib.sha256(path.read_bytes()).hexdigest(),
        "size": path.stat().st_size,
    }
