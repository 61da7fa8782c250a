"""A built package set (a dist/ directory with its manifest.json) and installing it on a box
with the box's own package manager."""

from __future__ import annotations

import hashlib
import json
import re
import shlex
from dataclasses import dataclass
from pathlib import Path

from harness import catalog, paths, platform
from harness.errors import HarnessError
from harness.transport import Machine, Result

from . import package_dir as package_dir_facts
from . import package_files, payload_layout
from .package_files import Relation, relations
from .payload_layout import PayloadLayout

REMOTE_DIR = "/var/tmp/salt-venv-harness/packages"


def package_dir(box_name: str, chosen: str | Path | None = None) -> Path:
    """Where BOX's package set is: dist/BOX/, or a --packages DIR holding either one set
    (its manifest.json, or package files, at the top) or one subdirectory per box."""
    if not chosen:
        return paths.package_set_dir(box_name)
    chosen = Path(chosen)
    return chosen if holds_one_set(chosen) else chosen / box_name


def holds_one_set(directory: Path) -> bool:
    """Is DIRECTORY one package set (not one subdirectory per box)?"""
    return (directory / "manifest.json").exists() or package_dir_facts.holds_packages(directory)


def made_for(directory: Path, box_name: str) -> bool:
    """Is the one set in DIRECTORY for BOX: its manifest's box, packages.toml's box, or else
    a format BOX installs?"""
    if (directory / "manifest.json").exists():
        return PackageSet.read_manifest(directory).get("box") == box_name
    named = package_dir_facts.settings(directory).get("box")
    if named:
        return named == box_name
    return any(package_files.format_of(p) in formats_of(box_name) for p in directory.iterdir())


def formats_of(box_name: str) -> tuple[str, ...]:
    """The package formats BOX's package manager installs."""
    return platform.of(catalog.load_box(box_name)).packages.formats


def is_foreign(directory: Path) -> bool:
    """A set no build of ours made: package files without our manifest."""
    return not (directory / "manifest.json").exists() and package_dir_facts.holds_packages(
        directory
    )


def our_layout(directory: Path) -> str | None:
    """The install layout our manifest in DIRECTORY names (onedir), None for ours (venv) or
    a set we did not build: our other sets of that box are found in that layout."""
    if not (directory / "manifest.json").exists():
        return None
    found = PackageSet.read_manifest(directory).get("layout")
    return found if found and found != "venv" else None


def older_line_dir(chosen: str | None, main: Path) -> Path | None:
    """The older line's directory: --older-line's, else the one a foreign set's
    packages.toml names (older_line); None when neither says."""
    if chosen:
        return Path(chosen)
    named = package_dir_facts.settings(main).get("older_line") if is_foreign(main) else None
    return (main / named).resolve() if named else None


def salt_version_in(directory: Path) -> str:
    """The Salt version of the one set in DIRECTORY, without checking the set."""
    if (directory / "manifest.json").exists():
        return PackageSet.read_manifest(directory)["salt_version"]
    return package_dir_facts.layout_of(directory).salt_version


@dataclass(frozen=True)
class Package:
    name: str
    version: str
    file: str
    sha256: str


@dataclass(frozen=True)
class PackageSet:
    directory: Path
    manifest: dict  # ours (manifest.json), or what the package files say (package_dir)
    layout: PayloadLayout

    @classmethod
    def load(
        cls, directory: Path, box_name: str | None = None, prefix: str | None = None
    ) -> PackageSet:
        """The set in DIRECTORY, for BOX_NAME when given. Ours carries manifest.json and
        is held to it; any other directory of packages is read from the files."""
        if not (directory / "manifest.json").is_file():
            if not package_dir_facts.holds_packages(directory):
                hint = f"harness build {box_name}" if box_name else "harness build BOX"
                raise HarnessError(
                    f"no packages in {directory} (no manifest.json, no .deb or .rpm): "
                    f"build them with {hint}"
                )
            manifest, layout = package_dir_facts.describe(directory, prefix)
            packages = cls(directory, manifest, layout)
        else:
            manifest = cls.read_manifest(directory)
            packages = cls(directory, manifest, payload_layout.declared(manifest))
            packages.held_to_manifest()
        if box_name:
            packages.for_box(box_name)
        return packages

    def held_to_manifest(self) -> None:
        for p in self.packages:
            path = self.directory / p.file
            if not path.is_file():
                raise HarnessError(
                    f"{path} is listed in the manifest but missing; rebuild the packages"
                )
            if hashlib.sha256(path.read_bytes()).hexdigest() != p.sha256:
                raise HarnessError(
                    f"{path} does not match its sha256 in the manifest; rebuild the packages"
                )

    def for_box(self, box_name: str) -> None:
        """Refuse a set made for another box, or in a format the box does not install."""
        made_for = self.manifest.get("box")
        if made_for not in (None, box_name):
            raise HarnessError(
                f"{self.directory} holds packages for {made_for}, not {box_name} "
                f"(pass --packages for the right box)"
            )
        formats = formats_of(box_name)
        found = self.suffix.removeprefix(".")
        if found not in formats:
            raise HarnessError(
                f"{self.directory} holds .{found} packages; {box_name} installs "
                f"{' and '.join('.' + f for f in formats)} (pass --packages for the right box)"
            )

    @staticmethod
    def read_manifest(directory: Path) -> dict:
        manifest_file = directory / "manifest.json"
        try:
            manifest: dict = json.loads(manifest_file.read_text())
        except ValueError as e:
            raise HarnessError(
                f"{manifest_file}: not valid JSON ({e}); rebuild the packages"
            ) from None
        return manifest

    @property
    def packages(self) -> list[Package]:
        return [
            Package(p["name"], p["version"], p["file"], p["sha256"])
            for p in self.manifest["packages"]
        ]

    @property
    def names(self) -> list[str]:
        return [p.name for p in self.packages]

    def version(self, name: str | None = None) -> str:
        """The version of package NAME (default: the one that holds Salt)."""
        return next(p.version for p in self.packages if p.name == (name or self.layout.common))

    @property
    def salt_version(self) -> str:
        return self.manifest["salt_version"]

    @property
    def python_minor(self) -> str:
        """The X.Y of /opt/salt's Python."""
        return ".".join(self.manifest["python_version"].split(".")[:2])

    @property
    def bundled(self) -> dict[str, str]:
        return self.manifest.get("bundled", {})

    def copy_to(self, machine: Machine) -> list[str]:
        """Upload the package files; returns their paths on the box."""
        target = f"{REMOTE_DIR}/{self.salt_version}-{self.directory.name}"
        machine.run(f"mkdir -p {shlex.quote(target)}")
        remote = []
        for p in self.packages:
            machine.put_file(self.directory / p.file, f"{target}/{p.file}")
            remote.append(f"{target}/{p.file}")
        return remote

    def install(
        self,
        machine: Machine,
        names: list[str] | None = None,
        downgrade: bool = False,
        unattended: bool = False,
        check: bool = True,
    ) -> Result:
        """Install (or upgrade to) these packages with the box's package manager, in at most
        ten minutes.

        Raises CommandError on failure when `check`.
        """
        files = [
            f
            for f, p in zip(self.copy_to(machine), self.packages, strict=True)
            if names is None or p.name in names
        ]
        db = platform.of(machine.spec).packages
        assert not (downgrade and unattended), "a downgrade is never unattended"
        install = db.downgrade if downgrade else db.install_unattended if unattended else db.install
        command = install(files)
        return machine.run(f"timeout 600 sh -c {shlex.quote(command)}", check=check, timeout=630)

    def relations(self) -> dict[str, dict[str, list[Relation]]]:
        """Each package's provides and requires, read from its file."""
        return {p.name: relations(self.directory / p.file) for p in self.packages}

    @property
    def suffix(self) -> str:
        return Path(self.packages[0].file).suffix

    def relations_command(self) -> str:
        return RELATIONS_COMMAND[self.suffix]

    def foreign_relations(self) -> list[str]:
        """Provides that name anything but our packages; Requires outside ALLOWED_REQUIRES,
        or naming one of ours at another version than the set's."""
        ours = {p.name: p.version for p in self.packages}
        allowed = ALLOWED_REQUIRES[self.suffix]
        wrong = []
        for name, found in self.relations().items():
            for provide in found["provides"]:
                bare = re.sub(r"^config\((.*)\)$|\(x86-64\)$", r"\1", provide.name)
                if bare not in ours and not provide.name.startswith("bundled("):
                    wrong.append(f"{name} provides {provide.name}")
            for need in found["requires"]:
                bare = re.sub(r"^config\((.*)\)$", r"\1", need.name)
                if bare in ours and need.version != ours[bare]:
                    wrong.append(f"{name} requires {need.name} at {need.version or 'any version'}")
                elif bare not in ours and not allowed.fullmatch(need.name):
                    wrong.append(f"{name} requires {need.name}")
        return sorted(set(wrong))

    def payload_files(self) -> list[str]:
        """Every file and symlink the package files hold (absolute paths), read on the host."""
        return sorted(
            e.path
            for p in self.packages
            for e in package_files.entries(self.directory / p.file)
            if e.kind != "dir"
        )


# What our packages may require besides each other (each pinned to exactly our version):
# the package manager's own markers, the shell, the C/C++ runtime and the shared libraries
# a bundled interpreter loads, the system interpreter a venv runs on, init-system glue and
# logrotate. Never one of the distribution's Python libraries, nor anything else.
ALLOWED_REQUIRES = {
    ".rpm": re.compile(
        r"rpmlib\(.*\)|/bin/sh|/sbin/(chkconfig|service)|chkconfig|initscripts|systemd"
        r"|logrotate|glibc|libstdc\+\+|zlib|bzip2-libs|xz-libs|libffi|openssl(11)?(-libs)?"
        r"|readline|sqlite|ncurses(-libs)?|python3\.\d+"
    ),
    ".deb": re.compile(
        r"init-system-helpers|logrotate|lib[a-z0-9][a-z0-9.+-]*|zlib1g|python3\.\d+"
    ),
}
RELATIONS_COMMAND = {
    ".rpm": "rpm -qp --provides --requires FILE",
    ".deb": "dpkg-deb -f FILE Provides Pre-Depends Depends Recommends",
}
