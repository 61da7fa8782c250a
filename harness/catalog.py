"""The box catalog: boxes/*.toml, one file per box.

A box file says what the box is (distribution, Python, the libraries of the distribution
that conflict with Salt's) and how each provider can start it. Loading validates it; a bad
file is one line naming the file and the field.
"""

from __future__ import annotations

import tomllib
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from . import paths
from .errors import CatalogError

PROVIDER_NAMES = ("nspawn", "vagrant")


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class SystemPython(Strict):
    path: str = Field(pattern=r"^/")
    version: str = Field(pattern=r"^\d+\.\d+(\.\d+)?$")
    # True where the system Python cannot run the Salt we ship: the package carries its own.
    bundle_interpreter: bool
    bundled_version: str | None = Field(default=None, pattern=r"^\d+\.\d+$")

    @model_validator(mode="after")
    def _bundled_version_when_bundling(self):
        if self.bundle_interpreter and not self.bundled_version:
            raise ValueError("bundled_version is required when bundle_interpreter is true")
        return self


class ConflictLibrary(Strict):
    """A Python library the distribution ships that Salt also bundles, at another version."""

    package: str = Field(min_length=1)
    module: str = Field(pattern=r"^[A-Za-z_][A-Za-z0-9_.]*$")
    version: str = Field(pattern=r"^\d+(\.\d+)*$")
    repo: str | None = None  # e.g. "epel" where the base distribution lacks it


class NspawnSettings(Strict):
    suite: str = Field(min_length=1)
    components: list[str] = ["main"]


class VagrantSettings(Strict):
    box: str = Field(min_length=1)
    box_version: str | None = None
    memory: int = Field(default=1024, ge=256)
    cpus: int = Field(default=1, ge=1)
    hypervisors: list[Literal["virtualbox", "libvirt"]] = ["virtualbox", "libvirt"]
    # Extra settings for each hypervisor's provider block of the Vagrantfile
    # (attribute = value, e.g. libvirt disk_bus = "sata", virtualbox linked_clone = true).
    libvirt: dict[str, str | int | bool] = {}
    virtualbox: dict[str, str | int | bool] = {}


class Providers(Strict):
    nspawn: NspawnSettings | None = None
    vagrant: VagrantSettings | None = None


class Box(Strict):
    name: str
    family: Literal["debian", "centos"]
    release: str = Field(pattern=r"^\d+$")
    codename: str = Field(min_length=1)
    package_format: Literal["deb", "rpm"]
    package_manager: Literal["apt", "yum"]
    init: Literal["systemd", "sysv"]
    # The release's glibc: no ELF under /opt/salt may need a newer GLIBC_ symbol version.
    glibc: str = Field(pattern=r"^2\.\d+$")
    python: SystemPython
    conflicts: list[ConflictLibrary] = Field(min_length=1)
    build_packages: list[str] = []
    providers: Providers

    @model_validator(mode="after")
    def _consistent(self):
        expected_manager = {"deb": "apt", "rpm": "yum"}[self.package_format]
        if self.package_manager != expected_manager:
            raise ValueError(
                f"package_manager {self.package_manager!r} does not fit package_format "
                f"{self.package_format!r} (expected {expected_manager!r})"
            )
        if self.providers.nspawn and self.family != "debian":
            raise ValueError("providers.nspawn: only Debian boxes can be made with debootstrap")
        if not (self.providers.nspawn or self.providers.vagrant):
            raise ValueError("providers: name at least one of nspawn, vagrant")
        return self

    @property
    def provider_names(self) -> list[str]:
        return [p for p in PROVIDER_NAMES if getattr(self.providers, p) is not None]


def _format_error(path: Path, err: ValidationError) -> str:
    problems = []
    for e in err.errors():
        field = ".".join(str(part) for part in e["loc"]) or "(top level)"
        if e["type"] == "extra_forbidden":
            problems.append(f"unknown key '{field}'")
        elif e["type"] == "missing":
            problems.append(f"missing field '{field}'")
        else:
            msg = e["msg"].removeprefix("Value error, ")
            problems.append(f"field '{field}': {msg}")
    return f"{path}: " + "; ".join(problems) + " (fix the box file; see boxes/README.md)"


def load_box_file(path: Path) -> Box:
    try:
        data = tomllib.loads(path.read_text())
    except tomllib.TOMLDecodeError as e:
        raise CatalogError(f"{path}: not valid TOML: {e}") from None
    except OSError as e:
        raise CatalogError(f"{path}: cannot read: {e.strerror}") from None
    name = data.setdefault("name", path.stem)
    if name != path.stem:
        raise CatalogError(f"{path}: field 'name': {name!r} must match the file name {path.stem!r}")
    try:
        return Box.model_validate(data)
    except ValidationError as e:
        raise CatalogError(_format_error(path, e)) from None


def load_catalog(boxes_dir: Path | None = None) -> dict[str, Box]:
    boxes_dir = boxes_dir or paths.BOXES_DIR
    return {p.stem: load_box_file(p) for p in sorted(boxes_dir.glob("*.toml"))}


def load_box(name: str, boxes_dir: Path | None = None) -> Box:
    catalog = load_catalog(boxes_dir)
    if name not in catalog:
        known = ", ".join(catalog) or "none"
        raise CatalogError(f"unknown box '{name}' (known boxes: {known}; see `harness boxes`)")
    return catalog[name]


def select_boxes(
    spec: list[str] | str | None, default: str = "debian12", boxes_dir: Path | None = None
) -> list[Box]:
    """Boxes named by a --box option: repeatable, comma lists, or 'all'."""
    catalog = load_catalog(boxes_dir)
    if isinstance(spec, str):
        spec = [spec]
    names = [n.strip() for item in (spec or [default]) for n in item.split(",") if n.strip()]
    if "all" in names:
        return list(catalog.values())
    unknown = [n for n in names if n not in catalog]
    if unknown:
        raise CatalogError(
            f"unknown box '{unknown[0]}' (known boxes: {', '.join(catalog)}; see `harness boxes`)"
        )
    return [catalog[n] for n in dict.fromkeys(names)]
