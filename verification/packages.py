"""A built package set (a dist/ directory with its manifest.json) and installing it on a box
with the box's own package manager."""

from __future__ import annotations

import functools
import hashlib
import io
import json
import re
import shlex
import tarfile
from dataclasses import dataclass
from pathlib import Path

from harness import paths, platform
from harness.errors import HarnessError
from harness.runner import capture
from harness.transport import Machine, Result

REMOTE_DIR = "/var/tmp/salt-venv-harness/packages"


def package_dir(box_name: str, chosen: str | Path | None = None) -> Path:
    """Where BOX's package set is: dist/BOX/, or a --packages DIR holding either one set
    (its manifest.json at the top) or one subdirectory per box."""
    if not chosen:
        return paths.package_set_dir(box_name)
    chosen = Path(chosen)
    return chosen if (chosen / "manifest.json").exists() else chosen / box_name


@dataclass(frozen=True)
class Package:
    name: str
    version: str
    file: str
    sha256: str


@dataclass(frozen=True)
class PackageSet:
    directory: Path
    manifest: dict

    @classmethod
    def load(cls, directory: Path, box_name: str | None = None) -> PackageSet:
        manifest_file = directory / "manifest.json"
        if not manifest_file.is_file():
            hint = f"harness build {box_name}" if box_name else "harness build BOX"
            raise HarnessError(
                f"no packages in {directory} (no manifest.json): build them with {hint}"
            )
        packages = cls(directory, cls.read_manifest(directory))
        manifest = packages.manifest
        if box_name and manifest.get("box") != box_name:
            raise HarnessError(
                f"{directory} holds packages for {manifest.get('box')}, not {box_name} "
                f"(pass --packages for the right box)"
            )
        for p in packages.packages:
            path = directory / p.file
            if not path.is_file():
                raise HarnessError(
                    f"{path} is listed in the manifest but missing; rebuild the packages"
                )
            if hashlib.sha256(path.read_bytes()).hexdigest() != p.sha256:
                raise HarnessError(
                    f"{path} does not match its sha256 in the manifest; rebuild the packages"
                )
        return packages

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

    def version(self, name: str = "salt") -> str:
        return next(p.version for p in self.packages if p.name == name)

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
        return sorted(f for p in self.packages for f in _payload_files(self.directory / p.file))


@dataclass(frozen=True)
class Relation:
    """One Provides or Requires (Depends) entry: a name, and the version it is pinned to."""

    name: str
    version: str = ""  # after "=" (RPM) or "(= ...)" (DEB); empty when unpinned or ranged


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


@functools.cache  # one package set is checked on every box that verifies it
def relations(package: Path) -> dict[str, list[Relation]]:
    """What a package file provides and requires, read on the host: {provides, requires}.
    A DEB's requires are its Pre-Depends, Depends and Recommends, alternatives each."""
    if package.suffix == ".rpm":
        return {kind: _rpm_relations(package, kind) for kind in ("provides", "requires")}
    fields = {"provides": ["Provides"], "requires": ["Pre-Depends", "Depends", "Recommends"]}
    return {kind: _deb_relations(package, names) for kind, names in fields.items()}


def _rpm_relations(package: Path, kind: str) -> list[Relation]:
    listing = capture(["rpm", "-qp", f"--{kind}", str(package)], check=True).stdout
    found = []
    for line in listing.splitlines():
        name, _, rest = line.strip().partition(" ")
        op, _, version = rest.partition(" ")
        found.append(Relation(name, version if op == "=" else ""))
    return found


def _deb_relations(package: Path, fields: list[str]) -> list[Relation]:
    found = []
    for field_name in fields:
        value = capture(["dpkg-deb", "-f", str(package), field_name], check=True).stdout
        for entry in value.replace("|", ",").split(","):
            name, _, rest = entry.strip().partition(" ")
            pinned = rest.strip("() ")
            if name:
                found.append(Relation(name, pinned[2:] if pinned.startswith("= ") else ""))
    return found


@functools.cache
def _payload_files(package: Path) -> tuple[str, ...]:
    if package.suffix == ".rpm":
        listing = capture(
            ["rpm", "-qp", "--qf", "[%{FILEMODES:perms} %{FILENAMES}\\n]", str(package)],
            check=True,
        ).stdout
        entries = [line.split(" ", 1) for line in listing.splitlines() if " " in line]
        return tuple(path for perms, path in entries if not perms.startswith("d"))
    tar = capture(["dpkg-deb", "--fsys-tarfile", str(package)], check=True, text=False).stdout
    with tarfile.open(fileobj=io.BytesIO(tar)) as archive:
        return tuple(m.name.removeprefix(".") for m in archive.getmembers() if not m.isdir())
