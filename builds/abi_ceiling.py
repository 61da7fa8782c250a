"""The ABI ceiling of a payload: every ELF under /opt/salt runs on the target's C runtime.

A target release is known by its glibc (the catalog's ``glibc`` field: centos7 "2.17",
debian12 "2.36", ...). The payload may take from the system only the C runtime, in versions
that release has:

- glibc's libraries (libc, libm, libpthread, libdl, librt, libutil, libcrypt, libnsl,
  libresolv, libanl, libmvec, ld-linux): no ``GLIBC_x`` symbol version above the ceiling,
  never ``GLIBC_PRIVATE``;
- libgcc_s and libstdc++, with ``GCC_``, ``GLIBCXX_`` and ``CXXABI_`` versions no newer than
  the release's gcc runtime (:data:`RUNTIME_CEILINGS`), and libcrypt's ``XCRYPT_`` versions
  only where libxcrypt is the system's libcrypt.

Every other DT_NEEDED (libssl, libcrypto, libffi, libsqlite3, libz, libpython, libzmq, ...)
must be satisfied inside the tree, through the file's own RPATH/RUNPATH: ``$ORIGIN`` taken
relative to the file, absolute entries under /opt/salt mapped onto the tree, symlinks
followed inside the tree only. A library the tree holds but the rpath does not reach would
be taken from the system (or not found) at run time, so it is a finding too.

``portable=False`` is for payloads built for one release on that release (the Debian
boxes: debian12's venv on /usr/bin/python3.11, debian11's CPython built against Debian's
libssl). The ceilings and the rpath rules stay exactly the same (Debian boxes run the check
too); the relaxation is that a library outside the tree that is not runtime is listed in
:attr:`AbiReport.system_needs` (the package's Depends cover it) rather than reported. A
portable payload takes nothing but the C runtime from the system, and never libssl,
libcrypto, libffi, libsqlite3 or libpython (:data:`NEVER_FROM_SYSTEM`): the target's copies
are older, or missing, and a distribution upgrade of them is what it must survive.

    report = scan(Path("/tmp/x"), "2.17")   # an extracted package root, or the tree itself
    report.ok, report.max_glibc, report.findings

    python -m builds.abi_ceiling DIR --glibc 2.17     # or --box centos7; exit 1 on findings

ELF files are read with pyelftools (DT_NEEDED, DT_RPATH/DT_RUNPATH, .gnu.version_r and the
versioned .dynsym), never by parsing objdump output. Files are found by their magic bytes;
symlinks are skipped (their targets are counted once, as files).
"""

from __future__ import annotations

import argparse
import functools
import os
import posixpath
import re
import sys
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Any, cast

from elftools.elf.dynamic import DynamicSection, DynamicSegment
from elftools.elf.elffile import ELFFile
from elftools.elf.gnuversions import GNUVerDefSection, GNUVerNeedSection, GNUVerSymSection
from elftools.elf.sections import NoteSection, SymbolTableSection

from harness import toolchain

PREFIX = PurePosixPath("/opt/salt")
ELF_MAGIC = b"\x7fELF"

Version = tuple[int, ...]

# glibc's own libraries: they come with glibc, whose version the GLIBC_ ceiling checks.
GLIBC_LIBS = frozenset({*toolchain.GLIBC_RUNTIME, "libmvec.so.1"})
_LD_SO = re.compile(r"^ld-linux(-[\w-]+)?\.so\.\d+$")
LIBGCC = "libgcc_s.so.1"
LIBSTDCXX = "libstdc++.so.6"
LIBCRYPT = "libcrypt.so.1"

# Never from the system, portable or not (matched on the soname's stem before ".so").
NEVER_FROM_SYSTEM = ("libssl", "libcrypto", "libffi", "libsqlite3", "libpython")

# Findings that say a needed library is not the tree's (its symbols are unknown here).
LIBRARY_KINDS = frozenset({"system-library", "not-on-rpath", "rpath-outside-tree"})

# auditwheel's grafted copies: libsodium-cb25555f.so.23.3.0, libzmq-f468291a.so.5.2.4
_GRAFTED = re.compile(r"-[0-9a-f]{8}\.so(\.|$)")
# Version names that carry no number but stand for a release.
_GLIBC_ALIASES = {"ABI_DT_RELR": "2.36"}  # -z pack-relative-relocs, new in glibc 2.36
_CXXABI_ALIASES = {"TM_1": "1.3.6", "FLOAT128": "1.3.10"}


@dataclass(frozen=True)
class RuntimeCeiling:
    """The gcc runtime that a release with this glibc ships (x86_64)."""

    glibc: str
    glibcxx: str
    cxxabi: str
    gcc: str
    xcrypt: bool  # libcrypt.so.1 is libxcrypt (XCRYPT_2.0), not glibc's own
    release: str
    kernel: str  # the release's Linux: no ELF's .note.ABI-tag may ask for a newer one


# EL5/6/7: auditwheel's manylinux_2_5/2_12/2_17 policies (taken from those releases' libs);
# Debian 12: its libstdc++6/libgcc-s1 (gcc 12.2), read on this host; Debian 11 (gcc 10.2) and
# Debian 13 (gcc 14.2): from those gcc releases' version scripts, not read on a box here.
RUNTIME_CEILINGS: tuple[RuntimeCeiling, ...] = (
    RuntimeCeiling("2.5", "3.4.8", "1.3.1", "4.2.0", False, "EL5 (gcc 4.1)", "2.6.18"),
    RuntimeCeiling("2.12", "3.4.13", "1.3.3", "4.3.0", False, "EL6 (gcc 4.4)", "2.6.32"),
    RuntimeCeiling("2.17", "3.4.19", "1.3.7", "4.8.0", False, "EL7 (gcc 4.8)", "3.10.0"),
    RuntimeCeiling("2.31", "3.4.28", "1.3.12", "7.0.0", True, "Debian 11 (gcc 10)", "5.10.0"),
    RuntimeCeiling("2.36", "3.4.30", "1.3.13", "12.0.0", True, "Debian 12 (gcc 12)", "6.1.0"),
    RuntimeCeiling("2.41", "3.4.33", "1.3.15", "14.0.0", True, "Debian 13 (gcc 14)", "6.12.0"),
)


def parse_version(text: str) -> Version:
    """ "2.17" -> (2, 17); "2.2.5" -> (2, 2, 5). Raises ValueError on anything else."""
    if not re.fullmatch(r"\d+(\.\d+)*", text):
        raise ValueError(f"not a dotted version number: {text!r}")
    return tuple(int(p) for p in text.split("."))


def runtime_ceiling(glibc_ceiling: str) -> RuntimeCeiling:
    """The row of the newest release whose glibc is not above the ceiling (the oldest row
    below all of them): a conservative answer for a glibc between two known releases."""
    ceiling = parse_version(glibc_ceiling)
    rows = [r for r in RUNTIME_CEILINGS if parse_version(r.glibc) <= ceiling]
    return rows[-1] if rows else RUNTIME_CEILINGS[0]


def is_runtime_library(soname: str) -> bool:
    """glibc's libraries, ld.so and libgcc_s: always taken from the system."""
    return soname in GLIBC_LIBS or soname == LIBGCC or bool(_LD_SO.match(soname))


def never_from_system(soname: str) -> bool:
    """libssl.so.3, libpython3.11.so.1.0, libsqlite3.so.0, ...: see NEVER_FROM_SYSTEM."""
    return bool(re.match(rf"^({'|'.join(NEVER_FROM_SYSTEM)})([\d._-]|\.so)", soname))


@dataclass
class ElfInfo:
    """What one ELF file asks of the loader."""

    path: str  # relative to the scanned root
    needed: list[str] = field(default_factory=list)
    rpath: list[str] = field(default_factory=list)
    runpath: list[str] = field(default_factory=list)
    # soname -> the version names needed from it (.gnu.version_r)
    version_needs: dict[str, list[str]] = field(default_factory=dict)
    # version name -> the undefined symbols bound to it (.dynsym + .gnu.version)
    symbols: dict[str, list[str]] = field(default_factory=dict)
    # the oldest Linux it runs on, by its .note.ABI-tag ("3.2.0"), or None
    kernel: str | None = None
    # symbols it exports, and those it needs (not weakly) with no version at all
    defined: set[str] = field(default_factory=set)
    unversioned: list[str] = field(default_factory=list)

    @property
    def max_glibc(self) -> str | None:
        """The highest numbered GLIBC_ version this file needs ("2.34"), or None."""
        found = [v for v in (_glibc_number(n) for n in self._all_versions()) if v is not None]
        return max(found, key=parse_version) if found else None

    def _all_versions(self) -> Iterator[str]:
        for names in self.version_needs.values():
            yield from names


@dataclass(frozen=True)
class Finding:
    """One rule broken by one file. `message` is one line: the file, what it needs, and
    what the target allows. Kinds: glibc-too-new, glibc-private, libstdcxx-too-new,
    libgcc-too-new, libcrypt-too-new, unknown-version, kernel-too-new, unversioned-symbol,
    system-library, not-on-rpath, rpath-outside-tree, unreadable."""

    path: str  # relative to the scanned root
    kind: str
    message: str

    def __str__(self) -> str:
        return f"{self.kind}: {self.message}"


@dataclass
class AbiReport:
    """The verdict on one tree: `ok` when there are no findings."""

    root: str
    glibc_ceiling: str
    portable: bool
    files: int = 0
    elf_files: list[ElfInfo] = field(default_factory=list)
    max_glibc: str | None = None
    max_glibc_path: str | None = None
    findings: list[Finding] = field(default_factory=list)
    # soname -> files needing it from the system (non-runtime; portable=False only)
    system_needs: dict[str, list[str]] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return not self.findings

    def summary(self) -> str:
        top = f"GLIBC_{self.max_glibc} ({self.max_glibc_path})" if self.max_glibc else "none"
        verdict = "ok" if self.ok else f"{len(self.findings)} finding(s)"
        return (
            f"{self.files} ELF files, max {top}, ceiling {self.glibc_ceiling}"
            f" ({'portable' if self.portable else 'system interpreter'}): {verdict}"
        )


def _glibc_number(name: str) -> str | None:
    """ "GLIBC_2.2.5" -> "2.2.5"; aliases ("GLIBC_ABI_DT_RELR" -> "2.36"); else None."""
    if not name.startswith("GLIBC_"):
        return None
    rest = name[len("GLIBC_") :]
    rest = _GLIBC_ALIASES.get(rest, rest)
    return rest if re.fullmatch(r"\d+(\.\d+)*", rest) else None


def _is_elf(path: Path) -> bool:
    try:
        with open(path, "rb") as f:
            return f.read(4) == ELF_MAGIC
    except OSError:
        return False


def read_elf(path: Path, rel: str) -> ElfInfo:
    """DT_NEEDED, RPATH/RUNPATH, version needs and versioned undefined symbols of one file."""
    info = ElfInfo(rel)
    with open(path, "rb") as f:
        elf = ELFFile(f)
        dynamic: DynamicSection | DynamicSegment | None = None
        index_names: dict[int, str] = {}
        versym: GNUVerSymSection | None = None
        dynsym: SymbolTableSection | None = None
        for sec in elf.iter_sections():
            if isinstance(sec, DynamicSection):
                dynamic = sec
            elif isinstance(sec, GNUVerNeedSection):
                for verneed, auxes in sec.iter_versions():
                    names = info.version_needs.setdefault(str(verneed.name), [])
                    for aux in auxes:
                        names.append(str(aux.name))
                        index_names[int(aux["vna_other"])] = str(aux.name)
            elif isinstance(sec, GNUVerSymSection):
                versym = sec
            elif isinstance(sec, SymbolTableSection) and sec["sh_type"] == "SHT_DYNSYM":
                dynsym = sec
            elif isinstance(sec, NoteSection):
                info.kernel = info.kernel or _abi_tag(sec)
        if dynamic is None:  # no section headers (sstrip): the PT_DYNAMIC segment
            for seg in elf.iter_segments():
                if isinstance(seg, DynamicSegment):
                    dynamic = seg
        if dynamic is not None:
            for tag in dynamic.iter_tags():
                kind = tag.entry.d_tag
                if kind == "DT_NEEDED":
                    info.needed.append(str(cast(Any, tag).needed))
                elif kind == "DT_RPATH":
                    info.rpath.extend(p for p in str(cast(Any, tag).rpath).split(":") if p)
                elif kind == "DT_RUNPATH":
                    info.runpath.extend(p for p in str(cast(Any, tag).runpath).split(":") if p)
        if dynsym is not None:
            _read_symbols(info, dynsym, versym, index_names)
    return info


def _read_symbols(
    info: ElfInfo,
    dynsym: SymbolTableSection,
    versym: GNUVerSymSection | None,
    index_names: dict[int, str],
) -> None:
    for i, sym in enumerate(dynsym.iter_symbols()):
        if not sym.name:
            continue
        if sym["st_shndx"] != "SHN_UNDEF":
            info.defined.add(sym.name)
            continue
        ndx = versym.get_symbol(i)["ndx"] if versym is not None else 0
        number = ndx & 0x7FFF if isinstance(ndx, int) else 0
        if number in index_names:
            info.symbols.setdefault(index_names[number], []).append(sym.name)
        elif sym["st_info"]["bind"] != "STB_WEAK":
            info.unversioned.append(sym.name)


class _Tree:
    """The scanned tree as it will be installed: paths under PREFIX map onto `local`."""

    def __init__(self, local: Path, prefix: PurePosixPath):
        self.local = local
        self.prefix = prefix
        self.basenames: dict[str, list[Path]] = {}

    def installed(self, path: Path) -> PurePosixPath:
        return self.prefix / path.relative_to(self.local).as_posix()

    def inside(self, path: PurePosixPath) -> bool:
        return path == self.prefix or path.is_relative_to(self.prefix)

    def resolve(self, path: PurePosixPath) -> Path | None:
        """The local file an installed absolute path reaches, following symlinks (relative or
        absolute) as the target system would, or None when it leaves the tree or is missing."""
        todo = list(PurePosixPath(posixpath.normpath(path)).parts[1:])
        cur = PurePosixPath("/")
        hops = 0
        while todo:
            part = todo.pop(0)
            if part in ("", "."):
                continue
            if part == "..":
                cur = cur.parent
                continue
            nxt = cur / part
            if self.prefix.is_relative_to(nxt) and nxt != self.prefix:
                cur = nxt  # an ancestor of the prefix: /opt
                continue
            if not self.inside(nxt):
                return None
            local = self.local / nxt.relative_to(self.prefix).as_posix()
            if local.is_symlink():
                hops += 1
                if hops > 40:
                    return None
                target = PurePosixPath(os.readlink(local))
                if target.is_absolute():
                    cur = PurePosixPath("/")
                    todo = list(target.parts[1:]) + todo
                else:
                    todo = list(target.parts) + todo
                continue
            if not local.exists():
                return None
            cur = nxt
        return self.local / cur.relative_to(self.prefix).as_posix() if self.inside(cur) else None


def _rpath_dirs(info: ElfInfo, installed: PurePosixPath) -> list[str]:
    """The search directories of the file's own DT_NEEDED: RUNPATH wins over RPATH."""
    origin = str(installed.parent)
    dirs = info.runpath or info.rpath
    return [d.replace("${ORIGIN}", origin).replace("$ORIGIN", origin) for d in dirs]


def _find_in_tree(tree: _Tree, soname: str, dirs: list[str]) -> Path | None:
    for d in dirs:
        if not d.startswith("/"):
            continue  # relative to the process's cwd: never a reliable way in
        found = tree.resolve(PurePosixPath(d) / soname)
        if found is not None and found.is_file():
            return found
    return None


def _above(names: list[str], prefix: str, ceiling: str, aliases: dict[str, str]) -> list[str]:
    """The version names `prefix`+N (or an alias) above `ceiling`, newest first."""
    limit = parse_version(ceiling)
    out: list[tuple[Version, str]] = []
    for name in names:
        if not name.startswith(prefix):
            continue
        number = aliases.get(name[len(prefix) :], name[len(prefix) :])
        try:
            v = parse_version(number)
        except ValueError:
            continue
        if v > limit:
            out.append((v, name))
    return [n for _, n in sorted(out, reverse=True)]


def _symbols_of(info: ElfInfo, versions: list[str]) -> str:
    syms = [f"{s}@{v}" for v in versions for s in sorted(info.symbols.get(v, []))]
    return f" (symbols: {_listed(syms)})" if syms else ""


def _listed(items: list[str], limit: int = 5) -> str:
    """The first `limit` items, and how many more: "a, b, c, 4 more"."""
    more = f", {len(items) - limit} more" if len(items) > limit else ""
    return ", ".join(items[:limit]) + more


def _abi_tag(notes: NoteSection) -> str | None:
    """The Linux version a GNU ABI tag note asks for ("2.6.32"), if the section has one."""
    for note in notes.iter_notes():
        if note["n_type"] == "NT_GNU_ABI_TAG" and note["n_desc"]["abi_os"] == "ELF_NOTE_OS_LINUX":
            desc = note["n_desc"]
            return f"{desc['abi_major']}.{desc['abi_minor']}.{desc['abi_tiny']}"
    return None


def _check_versions(
    info: ElfInfo, ceiling: str, rt: RuntimeCeiling, from_system: set[str]
) -> list[Finding]:
    """Version needs against the ceilings: GLIBC_ on any library, the gcc runtime's and
    libcrypt's only where that library is the system's; the kernel its ABI tag names."""
    out = _check_glibc(info, ceiling)
    if info.kernel and parse_version(info.kernel) > parse_version(rt.kernel):
        out.append(
            Finding(
                info.path,
                "kernel-too-new",
                f"{info.path}: its .note.ABI-tag asks for Linux {info.kernel}, "
                f"{rt.release} runs {rt.kernel}",
            )
        )
    for soname, names in info.version_needs.items():
        if soname in from_system:
            out += _check_runtime_library(info, soname, names, rt)
    return out


def _check_glibc(info: ElfInfo, ceiling: str) -> list[Finding]:
    out: list[Finding] = []
    p = info.path
    glibc_names = [n for names in info.version_needs.values() for n in names]
    too_new = _above(glibc_names, "GLIBC_", ceiling, _GLIBC_ALIASES)
    if too_new:
        also = [n[len("GLIBC_") :] for n in too_new[1:]]
        also_txt = f" (also {', '.join(also)})" if also else ""
        out.append(
            Finding(
                p,
                "glibc-too-new",
                f"{p} needs {too_new[0]}{also_txt}, above the ceiling {ceiling}"
                + _symbols_of(info, too_new),
            )
        )
    if "GLIBC_PRIVATE" in glibc_names:
        out.append(
            Finding(
                p,
                "glibc-private",
                f"{p} needs GLIBC_PRIVATE: glibc's internal symbols change between builds"
                + _symbols_of(info, ["GLIBC_PRIVATE"]),
            )
        )
    for soname, names in info.version_needs.items():
        for name in names:
            if name.startswith("GLIBC_") and name != "GLIBC_PRIVATE" and not _glibc_number(name):
                out.append(
                    Finding(
                        p,
                        "unknown-version",
                        f"{p} needs {name} from {soname}: unknown to the check",
                    )
                )
    return out


def _check_runtime_library(
    info: ElfInfo, soname: str, names: list[str], rt: RuntimeCeiling
) -> list[Finding]:
    """The system's gcc runtime and libcrypt against what the target release has."""
    if soname == LIBSTDCXX:
        kind = "libstdcxx-too-new"
        bad = _above(names, "GLIBCXX_", rt.glibcxx, {})
        bad += _above(names, "CXXABI_", rt.cxxabi, _CXXABI_ALIASES)
        has = f"{rt.release} has at most GLIBCXX_{rt.glibcxx}, CXXABI_{rt.cxxabi}"
    elif soname == LIBGCC:
        kind, bad = "libgcc-too-new", _above(names, "GCC_", rt.gcc, {})
        has = f"{rt.release} has at most GCC_{rt.gcc}"
    elif soname == LIBCRYPT and not rt.xcrypt:
        kind, bad = "libcrypt-too-new", [n for n in names if n.startswith("XCRYPT_")]
        has = f"{rt.release}'s libcrypt is glibc's, without libxcrypt's versions"
    else:
        return []
    if not bad:
        return []
    message = f"{info.path} needs {', '.join(bad)} from the system's {soname}; {has}"
    return [Finding(info.path, kind, message + _symbols_of(info, bad))]


def _check_rpath(info: ElfInfo, dirs: list[str], tree: _Tree, report: AbiReport) -> None:
    """Every RPATH/RUNPATH entry inside the tree, and absolute."""
    kind = "RUNPATH" if info.runpath else "RPATH"
    for d in dirs:
        if not d.startswith("/"):
            where = "relative to the working directory of the process"
        elif not tree.inside(PurePosixPath(posixpath.normpath(d))):
            where = f"outside {tree.prefix}: the loader searches the target system there"
        else:
            continue
        message = f"{info.path} has {kind} entry {d}, {where}"
        report.findings.append(Finding(info.path, "rpath-outside-tree", message))


def _check_needed(
    info: ElfInfo, tree: _Tree, installed: PurePosixPath, portable: bool, report: AbiReport
) -> set[str]:
    """Where each DT_NEEDED comes from; findings for those that may not come from the
    system. Returns the sonames taken from the system (for the version checks)."""
    p = info.path
    dirs = _rpath_dirs(info, installed)
    _check_rpath(info, dirs, tree, report)
    system: set[str] = set()
    for soname in info.needed:
        if is_runtime_library(soname):
            system.add(soname)
            continue
        if _find_in_tree(tree, soname, dirs) is not None:
            continue
        # what the tree really holds under that name: no symlink leaving it
        elsewhere = [
            f for f in tree.basenames.get(soname, []) if tree.resolve(tree.installed(f)) is not None
        ]
        if soname == LIBSTDCXX and not elsewhere:
            system.add(soname)  # the system's libstdc++, within the version ceiling
            continue
        rp = ":".join(info.runpath or info.rpath) or "none"
        if elsewhere:
            if soname.startswith("libpython") or _GRAFTED.search(soname):
                # Loaded by soname before anything needs it: libpython by the tree's own
                # interpreter; a library auditwheel grafted into a wheel (a hashed name no
                # system has) by the extension module that brings it along.
                continue
            where = elsewhere[0].relative_to(Path(report.root)).as_posix()
            report.findings.append(
                Finding(
                    p,
                    "not-on-rpath",
                    f"{p} needs {soname}; the tree has {where} but the file's rpath ({rp})"
                    " does not reach it, so the target system's copy would be loaded",
                )
            )
            continue
        system.add(soname)
        if portable:
            report.findings.append(
                Finding(
                    p,
                    "system-library",
                    f"{p} needs {soname}, found nowhere in the tree through its rpath ({rp}):"
                    " it would come from the target system"
                    + (", whose copy is older or missing" if never_from_system(soname) else ""),
                )
            )
        else:
            report.system_needs.setdefault(soname, []).append(p)
    return system


def iter_elf_files(top: Path) -> Iterator[Path]:
    """Regular files under `top` that start with the ELF magic; symlinks (to files or
    directories) are not followed, so nothing is counted twice."""
    for dirpath, dirnames, filenames in os.walk(top, followlinks=False):
        dirnames.sort()
        for name in sorted(filenames):
            path = Path(dirpath) / name
            if not path.is_symlink() and path.is_file() and _is_elf(path):
                yield path


def scan(
    root: Path, glibc_ceiling: str, portable: bool = True, prefix: str = str(PREFIX)
) -> AbiReport:
    """Check every ELF of the tree against the glibc ceiling and the system-library rules.

    `root` is the /opt/salt tree itself or a whole extracted package root (then root/opt/salt
    is scanned). Paths in the report are relative to `root`."""
    parse_version(glibc_ceiling)
    root = Path(root)
    pfx = PurePosixPath(prefix)
    inner = root / pfx.relative_to("/").as_posix()
    tree = _Tree(inner if inner.is_dir() else root, pfx)
    if not tree.local.is_dir():
        raise FileNotFoundError(f"{root}: no such directory")
    report = AbiReport(str(root), glibc_ceiling, portable)
    rt = runtime_ceiling(glibc_ceiling)
    for dirpath, _dirs, filenames in os.walk(tree.local):
        for name in filenames:
            tree.basenames.setdefault(name, []).append(Path(dirpath) / name)
    top: tuple[Version, str] | None = None
    for path in iter_elf_files(tree.local):
        rel = path.relative_to(root).as_posix()
        report.files += 1
        try:
            info = read_elf(path, rel)
        except Exception as e:  # pyelftools raises several kinds on a damaged file
            report.findings.append(Finding(rel, "unreadable", f"{rel}: not a readable ELF ({e})"))
            continue
        report.elf_files.append(info)
        if info.max_glibc and (top is None or parse_version(info.max_glibc) > top[0]):
            top = (parse_version(info.max_glibc), info.max_glibc)
            report.max_glibc, report.max_glibc_path = info.max_glibc, rel
        system = _check_needed(info, tree, tree.installed(path), portable, report)
        report.findings.extend(_check_versions(info, glibc_ceiling, rt, system))
    if portable:
        # A file whose libraries are not all the tree's already has its finding.
        unsure = {f.path for f in report.findings if f.kind in LIBRARY_KINDS}
        judged = [info for info in report.elf_files if info.path not in unsure]
        report.findings.extend(_check_unversioned(judged, report.elf_files, glibc_ceiling))
    return report


def _check_unversioned(files: list[ElfInfo], tree: list[ElfInfo], ceiling: str) -> list[Finding]:
    """What a portable tree needs with no version comes from the tree itself (libpython's Py*
    for extension modules) or is a glibc function as old as the ceiling (dlopen, which a
    wheel leaves to the interpreter to load). Linked against stubs of an older glibc, a
    function that glibc gained later (secure_getenv, 2.17) is left undefined and unversioned:
    it would bind to whatever the target exports, or to nothing."""
    exported = set().union(*(info.defined for info in tree)) if tree else set()
    outside = {info.path: sorted(set(info.unversioned) - exported) for info in files}
    if not any(outside.values()):
        return []  # the glibc symbol table (the ppbt toolchain) is read only when needed
    introduced = glibc_introductions()
    out = []
    for path, symbols in outside.items():
        late = [
            f"{sym} (glibc {introduced[sym]})" if sym in introduced else f"{sym} (not in glibc)"
            for sym in symbols
            if sym not in introduced or parse_version(introduced[sym]) > parse_version(ceiling)
        ]
        if late:
            out.append(
                Finding(
                    path,
                    "unversioned-symbol",
                    f"{path} needs {_listed(late)} with no version, and no library of the tree "
                    f"exports it: above the ceiling {ceiling}",
                )
            )
    return out


@functools.lru_cache(maxsize=1)
def glibc_introductions() -> dict[str, str]:
    """Every symbol glibc 2.17 exports (the ppbt toolchain's sysroot), with the oldest glibc
    version that has it; symbols glibc gained after 2.17 are absent."""
    libdir = toolchain.sysroot(toolchain.ensure_toolchain(_toolchain_log())) / "lib"
    # The sysroot's glibc lacks the compat memcpy@GLIBC_2.2.5 that every real glibc has.
    oldest: dict[str, str] = {"memcpy": "2.2.5"}
    for soname in sorted(GLIBC_LIBS):
        path = libdir / soname
        if not path.exists():
            continue
        for name, version in _exported_versions(path):
            known = oldest.get(name)
            if known is None or parse_version(version) < parse_version(known):
                oldest[name] = version
    return oldest


def _toolchain_log() -> Path:
    from harness import paths

    return paths.state_dir() / "logs" / "toolchain.log"


def _exported_versions(path: Path) -> Iterator[tuple[str, str]]:
    with open(path, "rb") as f:
        elf = ELFFile(f)
        verdef = next((s for s in elf.iter_sections() if isinstance(s, GNUVerDefSection)), None)
        versym = next((s for s in elf.iter_sections() if isinstance(s, GNUVerSymSection)), None)
        dynsym = elf.get_section_by_name(".dynsym")
        if verdef is None or versym is None or not isinstance(dynsym, SymbolTableSection):
            return
        names = {}
        for vd, auxes in verdef.iter_versions():
            aux = next(iter(auxes), None)
            if aux is not None:
                names[int(vd["vd_ndx"])] = str(aux.name)
        for i, sym in enumerate(dynsym.iter_symbols()):
            if sym["st_shndx"] == "SHN_UNDEF" or not sym.name:
                continue
            ndx = versym.get_symbol(i)["ndx"]
            version = _glibc_number(names.get(ndx & 0x7FFF, "")) if isinstance(ndx, int) else None
            if version:
                yield sym.name, version


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(
        prog="python -m builds.abi_ceiling",
        description="Check every ELF under /opt/salt against a target's glibc ceiling.",
    )
    ap.add_argument("dir", type=Path, metavar="DIR", help="the /opt/salt tree or a package root")
    group = ap.add_mutually_exclusive_group(required=True)
    group.add_argument("--glibc", metavar="VERSION", help="the ceiling, e.g. 2.17")
    group.add_argument("--box", metavar="BOX", help="take the ceiling from the catalog's box")
    ap.add_argument(
        "--system-python",
        action="store_true",
        help="the payload runs on the system's interpreter (portable=False)",
    )
    ap.add_argument("--files", action="store_true", help="also list every ELF file")
    args = ap.parse_args(argv)
    ceiling = args.glibc
    if args.box:
        from harness.catalog import load_box
        from harness.errors import HarnessError

        try:
            ceiling = load_box(args.box).glibc
        except HarnessError as e:
            ap.error(str(e))
    try:
        parse_version(ceiling)
    except ValueError as e:
        ap.error(str(e))
    if not args.dir.is_dir():
        ap.error(f"{args.dir}: no such directory")
    report = scan(args.dir, ceiling, portable=not args.system_python)

    from rich.console import Console
    from rich.table import Table

    console = Console(highlight=False)
    table = Table(title=f"ABI ceiling of {args.dir}", show_header=False)
    table.add_column(no_wrap=True)
    table.add_column(overflow="fold")
    rt = runtime_ceiling(ceiling)
    table.add_row("ceiling", f"GLIBC_{ceiling}; libstdc++ as {rt.release}")
    table.add_row("mode", "portable" if report.portable else "system interpreter")
    table.add_row("ELF files", str(report.files))
    table.add_row("max GLIBC", f"{report.max_glibc or '-'} ({report.max_glibc_path or '-'})")
    for soname, users in sorted(report.system_needs.items()):
        table.add_row("from the system", f"{soname} ({len(users)} files)")
    table.add_row("findings", str(len(report.findings)))
    console.print(table)
    if args.files:
        files = Table("file", "max GLIBC", "needed", "rpath")
        for column in files.columns:
            column.overflow = "fold"
        for info in report.elf_files:
            rp = ":".join(info.runpath or info.rpath)
            files.add_row(info.path, info.max_glibc or "-", " ".join(info.needed), rp)
        console.print(files)
    for finding in report.findings:
        print(finding)
    return 1 if report.findings else 0


if __name__ == "__main__":
    sys.exit(main())
