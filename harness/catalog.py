"""The box catalog: boxes/*.toml, one file per box.

A box file says what the box is (distribution, Python, the libraries of the distribution
that conflict with Salt's) and how each provider can start it. Loading validates it; a bad
file is one line naming the file and the field.
"""

from __future__ import annotations

import re
import tomllib
from pathlib import Path
from typing import Annotated, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
    model_validator,
)

from . import paths, platform
from .errors import CatalogError
from .providers import PROVIDERS


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class SystemPython(Strict):
    # The distribution's Python; none on a box without one (centos7-abi).
    path: str | None = Field(default=None, pattern=r"^/")
    version: str | None = Field(default=None, pattern=r"^\d+\.\d+(\.\d+)?$")
    # True where the system Python cannot run the Salt we ship: the package carries its own.
    bundle_interpreter: bool
    bundled_version: str | None = Field(default=None, pattern=r"^\d+\.\d+$")
    # The bundled interpreter is the portable CPython with its own C libraries
    # (builds/portable.py), built once for the oldest glibc it must run on: EL7's 3.11 runs
    # on everything newer too. A bundled interpreter is always the portable one.
    portable: bool = False
    # The distribution's packages of that Python (its interpreter and standard library).
    packages: list[str] = []
    # Salt lines (by major) whose packages carry the portable interpreter of the given
    # minor instead: a line Salt never ran upstream on the release's Python (Salt's own
    # 3006 packages carry 3.10, then 3.11; Debian 13 has 3.13).
    lines: dict[str, str] = {}

    @field_validator("lines")
    @classmethod
    def _line_minors(cls, value: dict[str, str]) -> dict[str, str]:
        for line, minor in value.items():
            if not re.fullmatch(r"\d{4}", line) or not re.fullmatch(r"\d+\.\d+", minor):
                raise ValueError(f"{line} = {minor!r}: expected a Salt major = a Python minor")
        return value

    def for_salt(self, salt_version: str) -> SystemPython:
        """The Python that packages of `salt_version` use on the box."""
        minor = self.lines.get(salt_version.split(".")[0])
        if minor is None:
            return self
        change = {"bundle_interpreter": True, "bundled_version": minor, "portable": True}
        return self.model_copy(update=change | {"lines": {}})

    @model_validator(mode="after")
    def _consistent(self):
        if self.bundle_interpreter and not self.bundled_version:
            raise ValueError("bundled_version is required when bundle_interpreter is true")
        if (self.path is None) != (self.version is None):
            raise ValueError("path and version go together (both, or neither for no Python)")
        if self.path is None and not self.bundle_interpreter:
            raise ValueError("a box without a system Python needs bundle_interpreter = true")
        if self.portable and not self.bundle_interpreter:
            raise ValueError("portable = true needs bundle_interpreter = true")
        if self.bundle_interpreter and not self.portable:
            raise ValueError(
                "bundle_interpreter = true needs portable = true: the bundled interpreter is "
                "the portable CPython (builds/portable.py)"
            )
        if self.path and not self.packages:
            raise ValueError("packages: name the distribution's packages of its Python")
        return self


class ConflictLibrary(Strict):
    """A Python library the distribution ships that Salt also bundles, at another version."""

    package: str = Field(min_length=1)
    module: str = Field(pattern=r"^[A-Za-z_][A-Za-z0-9_.]*$")
    version: str = Field(pattern=r"^\d+(\.\d+)*$")
    repo: str | None = None  # e.g. "epel" where the base distribution lacks it
    # Whether our payload bundles this module too; false where Salt took another library
    # (PyCrypto's Crypto: Salt uses pycryptodomex, Cryptodome), so /opt/salt has none.
    bundled: bool = True


class NspawnSettings(Strict):
    suite: str | None = Field(default=None, min_length=1)  # Debian suite, made by mmdebstrap
    components: list[str] = ["main"]
    # Instead of a Debian root: a minimal root made of the glibc 2.17 runtime, busybox and
    # dropbear, with no init system (harness/providers/nspawn/glibc_root.py).
    root: Literal["glibc-2.17"] | None = None
    # The distribution's Python and its conflicting libraries, built here because the root
    # has none of its own (el7: EL7's Python 2.7 and EPEL's; el6, el5: the same Python 2.7
    # with that release's and its EPEL's libraries; nspawn/system_python.py RELEASES).
    system_python: Literal["el7", "el6", "el5"] | None = None

    @model_validator(mode="after")
    def _one_kind(self):
        if (self.suite is None) == (self.root is None):
            raise ValueError("name either suite (a Debian root) or root (glibc-2.17)")
        return self


class BuildSettings(Strict):
    """Where the box's packages are built."""

    # A build box of another catalog entry (centos7 builds on debian12); default: the box.
    box: str | None = None
    # Where the payload lives and what its pieces are called (builds.layout.Shape): ours,
    # a venv in /opt/salt, or Salt's onedir packages' /opt/saltstack/salt.
    layout: Literal["venv", "onedir"] = "venv"


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
    # A module of harness/platform serves each: apt, yum, none (no package database,
    # payloads are unpacked with rpm2cpio | cpio).
    package_manager: str
    init: str  # systemd, sysv, none (no init system: daemons run by hand)
    # Salt's os_family grain on the box (none where Salt knows no distribution: centos7-abi).
    salt_os_family: str | None = None
    # Where the release's policy puts system units (Debian moved them to /usr/lib in 13).
    unit_dir: str = Field(default="/usr/lib/systemd/system", pattern=r"^/")
    # How DEBs for the release are compressed: zstd where its dpkg reads it (1.21.18 on).
    deb_compression: Literal["zstd", "xz"] = "xz"
    # The EL release whose rpm macros (rhel, dist, ...) the box's RPMs are built with.
    rpm_target: str | None = Field(default=None, pattern=r"^\d+$")
    # The release's glibc: no ELF under /opt/salt may need a newer GLIBC_ symbol version.
    glibc: str = Field(pattern=r"^2\.\d+$")
    python: SystemPython
    conflicts: list[ConflictLibrary] = []
    build_packages: list[str] = []
    build: BuildSettings = BuildSettings()
    # The Salt line its packages carry when none is asked for (builds.locks.DEFAULT_SALT when
    # unset): the newest whose whole dependency set builds within the box's glibc.
    salt: str | None = Field(default=None, pattern=r"^\d{4}\.\d+$")
    # The older Salt lines the lifecycle upgrades its packages from and downgrades them to
    # (builds.locks.OLDER_LINES when unset): lines that run within the box's glibc.
    older_salt: list[Annotated[str, Field(pattern=r"^\d{4}\.\d+$")]] | None = None
    # Verify the packages of another catalog entry (centos7-abi runs centos7's RPMs).
    packages_of: str | None = None
    # The box the suites run the salt-master on (default: a second box of this one).
    master: str | None = None
    providers: Providers

    def for_salt(self, salt_version: str) -> Box:
        """The box as packages of `salt_version` are built for it (python.lines)."""
        python = self.python.for_salt(salt_version)
        return self if python is self.python else self.model_copy(update={"python": python})

    def for_layout(self, layout: str | None) -> Box:
        """The box as packages of that install layout (None: the catalog's) are built for it."""
        if layout is None or layout == self.build.layout:
            return self
        build = self.build.model_copy(update={"layout": layout})
        return self.model_copy(update={"build": build})

    @property
    def packages_box(self) -> str:
        """The catalog entry whose packages this box verifies (its own, or packages_of)."""
        return self.packages_of or self.name

    @field_validator("package_manager")
    @classmethod
    def _known_manager(cls, value: str) -> str:
        return _known(value, platform.package_managers())

    @field_validator("init")
    @classmethod
    def _known_init(cls, value: str) -> str:
        return _known(value, platform.init_systems())

    @model_validator(mode="after")
    def _consistent(self):
        managers = platform.package_managers()
        if self.package_format not in managers[self.package_manager].formats:
            fits = [m for m, db in managers.items() if self.package_format in db.formats]
            raise ValueError(
                f"package_manager {self.package_manager!r} does not fit package_format "
                f"{self.package_format!r} (expected one of {', '.join(fits)})"
            )
        nspawn = self.providers.nspawn
        if nspawn and nspawn.suite and self.family != "debian":
            raise ValueError("providers.nspawn: only Debian boxes can be made with debootstrap")
        if self.python.path and not self.conflicts:
            raise ValueError("conflicts: list the distribution's libraries that Salt bundles")
        if self.packages_of and self.older_salt is not None:
            raise ValueError(
                f"older_salt: a box verifying {self.packages_of}'s packages upgrades them "
                f"from {self.packages_of}'s older lines (set older_salt there)"
            )
        if not (self.providers.nspawn or self.providers.vagrant):
            raise ValueError("providers: name at least one of nspawn, vagrant")
        return self

    @property
    def provider_names(self) -> list[str]:
        return [p for p in PROVIDERS if getattr(self.providers, p, None) is not None]


def _known(value: str, kinds: dict) -> str:
    """A kind that a module of harness/platform serves."""
    if value not in kinds:
        raise ValueError(
            f"{value!r} is no kind harness/platform knows (known: {', '.join(map(repr, kinds))})"
        )
    return value


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
    boxes = {p.stem: load_box_file(p) for p in sorted(boxes_dir.glob("*.toml"))}
    for box in boxes.values():
        for field, name in (
            ("build.box", box.build.box),
            ("packages_of", box.packages_of),
            ("master", box.master),
        ):
            if name is not None and name not in boxes:
                raise CatalogError(
                    f"{boxes_dir / box.name}.toml: field '{field}': no box {name!r} in the "
                    f"catalog (known: {', '.join(boxes)})"
                )
    return boxes


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
