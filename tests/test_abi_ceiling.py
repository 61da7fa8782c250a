"""builds.abi_ceiling against real ELF files, compiled here with the host's gcc (glibc 2.36)
and with the glibc 2.17 toolchain (ppbt), laid out in tmp_path as /opt/salt trees."""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from pathlib import Path

import pytest

from builds import abi_ceiling
from builds.abi_ceiling import parse_version, runtime_ceiling, scan

REPO = Path(__file__).resolve().parent.parent
HOST_LIBDIR = Path("/usr/lib/x86_64-linux-gnu")

GETRANDOM_C = """
#include <sys/random.h>
int fill(char *b) { return getrandom(b, 4, 0); }
"""
ARC4RANDOM_C = """
#include <stdlib.h>
unsigned int pick(void) { return arc4random(); }
"""
HELLO_C = """
#include <stdio.h>
int main(void) { puts("hello"); return 0; }
"""
FAKE_C = "int fake(void) { return 42; }\n"
USES_FAKE_C = "int fake(void);\nint twice(void) { return 2 * fake(); }\n"
CXX_SRC = """
#include <string>
std::string greet(const std::string &who) { return "hello " + who; }
"""


def _cc(compiler: str | Path, out: Path, source: str, *flags: str, lang: str = "c") -> Path:
    """Compile `source` into `out` (the source itself stays out of the scanned tree)."""
    out.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        src = Path(tmp) / ("src.cc" if lang == "c++" else "src.c")
        src.write_text(source)
        proc = subprocess.run(
            [str(compiler), "-o", str(out), str(src), *flags], capture_output=True, text=True
        )
    assert proc.returncode == 0, f"{compiler} failed: {proc.stderr}"
    return out


def _shared(compiler: str | Path, out: Path, source: str, *flags: str, lang: str = "c") -> Path:
    return _cc(compiler, out, source, "-shared", "-fPIC", *flags, lang=lang)


@pytest.fixture(scope="module")
def gcc() -> str:
    found = shutil.which("gcc")
    if not found:
        pytest.skip("the host has no gcc")
    return found


@pytest.fixture(scope="module")
def gcc217(tmp_path_factory) -> Path:
    from harness.toolchain import TRIPLET, ensure_toolchain

    root = ensure_toolchain(tmp_path_factory.mktemp("toolchain") / "toolchain.log")
    return root / "bin" / f"{TRIPLET}-gcc"


@pytest.fixture(scope="module")
def zig212(tmp_path_factory) -> Path:
    """EL6's compiler: zig cc behind builds/zig_wrappers.sh's wrapper, for glibc 2.12."""
    from harness.toolchain import ensure_zig

    zig = ensure_zig(tmp_path_factory.mktemp("zig") / "zig.log")
    tools = tmp_path_factory.mktemp("zig-wrappers")
    script = REPO / "builds" / "zig_wrappers.sh"
    env = dict(os.environ, TOOLCHAIN=str(zig), GLIBC="2.12", WORK=str(tools), PREFIX="/opt/salt")
    env["PATCHELF"] = "/usr/bin/patchelf"
    subprocess.run(
        ["bash", "-c", f'. "{script}" && toolchain_wrappers "{tools}"'], env=env, check=True
    )
    return tools / "x86_64-linux-gnu-gcc"


@pytest.fixture(scope="module")
def libfake(tmp_path_factory, gcc) -> Path:
    """libfake.so.1, a library the target system does not have, built outside any tree."""
    out = tmp_path_factory.mktemp("outside") / "libfake.so.1"
    return _shared(gcc, out, FAKE_C, "-Wl,-soname,libfake.so.1")


def _salt(tmp_path: Path) -> Path:
    """An extracted package root: tmp_path/root with opt/salt inside."""
    tree = tmp_path / "root" / "opt" / "salt"
    (tree / "lib").mkdir(parents=True)
    return tree


def _kinds(report) -> list[str]:
    return sorted(f.kind for f in report.findings)


# --- versions ---------------------------------------------------------------------------


def test_versions_compare_as_numbers_not_strings():
    assert parse_version("2.5") < parse_version("2.17")
    assert parse_version("2.2.5") < parse_version("2.3") < parse_version("2.3.4")
    assert parse_version("2.17") == (2, 17)
    assert max(["2.9", "2.25", "2.3.4", "2.17"], key=parse_version) == "2.25"
    for bad in ("PRIVATE", "2.x", "", "2.17a"):
        with pytest.raises(ValueError):
            parse_version(bad)
    with pytest.raises(ValueError):
        scan(Path("/nonexistent"), "two.seventeen")


def test_glibc_version_names():
    number = abi_ceiling._glibc_number
    assert number("GLIBC_2.2.5") == "2.2.5"
    assert number("GLIBC_2.34") == "2.34"
    assert number("GLIBC_PRIVATE") is None
    assert number("GLIBC_ABI_DT_RELR") == "2.36"
    assert number("GLIBCXX_3.4.21") is None
    assert number("GCC_4.2.0") is None


def test_runtime_ceiling_rows():
    assert runtime_ceiling("2.17").glibcxx == "3.4.19"
    assert runtime_ceiling("2.17").cxxabi == "1.3.7"
    assert runtime_ceiling("2.28").glibc == "2.17"  # between releases: the older one
    assert runtime_ceiling("2.36").glibcxx == "3.4.30"
    assert runtime_ceiling("2.3").glibc == "2.5"  # below every row: the oldest
    glibcs = [parse_version(r.glibc) for r in abi_ceiling.RUNTIME_CEILINGS]
    assert glibcs == sorted(glibcs)


def test_catalog_glibc_parses():
    from harness.catalog import load_box

    assert load_box("centos7").glibc == "2.17"
    assert runtime_ceiling(load_box("centos7").glibc).release.startswith("EL7")
    assert runtime_ceiling(load_box("debian12").glibc).release.startswith("Debian 12")


# --- the glibc ceiling --------------------------------------------------------------------


def _drop_abi_tag(path: Path) -> Path:
    subprocess.run(["objcopy", "--remove-section=.note.ABI-tag", str(path)], check=True)
    return path


def test_toolchain_binary_passes_217_host_binary_fails(tmp_path, gcc, gcc217):
    tree = _salt(tmp_path)
    _drop_abi_tag(_cc(gcc217, tree / "bin" / "hello", HELLO_C))
    ok = scan(tmp_path / "root", "2.17")
    assert ok.files == 1
    assert ok.ok, ok.findings
    assert ok.max_glibc is not None and parse_version(ok.max_glibc) <= (2, 17)

    _cc(gcc, tree / "bin" / "hello", HELLO_C)
    bad = scan(tmp_path / "root", "2.17")
    assert _kinds(bad) == ["glibc-too-new"]
    # glibc >= 2.34 links main's start through __libc_start_main@GLIBC_2.34
    assert bad.max_glibc == "2.34"
    assert bad.max_glibc_path == "opt/salt/bin/hello"
    msg = bad.findings[0].message
    assert msg.startswith("opt/salt/bin/hello needs GLIBC_2.34")
    assert "above the ceiling 2.17" in msg
    assert "__libc_start_main@GLIBC_2.34" in msg
    assert scan(tmp_path / "root", "2.36").ok


def test_an_executable_tagged_for_a_newer_kernel_is_flagged(tmp_path, gcc, gcc217):
    # ppbt's crt files tag executables for Linux 5.16.9; EL7 runs 3.10, EL6 2.6.32.
    tree = _salt(tmp_path)
    hello = _cc(gcc217, tree / "bin" / "hello", HELLO_C)
    bad = scan(tmp_path / "root", "2.17")
    assert _kinds(bad) == ["kernel-too-new"]
    assert bad.findings[0].message == (
        "opt/salt/bin/hello: its .note.ABI-tag asks for Linux 5.16.9, EL7 (gcc 4.8) runs 3.10.0"
    )
    _cc(gcc, hello, HELLO_C)  # Debian 12's crt: Linux 3.2.0, within Debian 12, not EL6
    assert scan(tmp_path / "root", "2.36").ok
    assert "kernel-too-new" in _kinds(scan(tmp_path / "root", "2.12"))
    assert scan(tmp_path / "root", "2.12").elf_files[0].kernel == "3.2.0"
    _drop_abi_tag(hello)
    assert "kernel-too-new" not in _kinds(scan(tmp_path / "root", "2.12"))


SECURE_GETENV_C = """
#define _GNU_SOURCE
#include <stdlib.h>
char *home(void) { return secure_getenv("HOME"); }
"""


MAIN_SECURE_GETENV_C = SECURE_GETENV_C + "int main(void) { return home() != 0; }\n"


def test_zig_for_el6_links_within_212_and_refuses_newer_symbols(tmp_path, zig212):
    tree = _salt(tmp_path)
    hello = _cc(zig212, tree / "bin" / "hello", HELLO_C)
    report = scan(tmp_path / "root", "2.12")
    assert report.ok, report.findings
    assert report.elf_files[0].kernel == "2.0.0"  # zig's crt: older than EL5's 2.6.18
    assert subprocess.run([str(hello)], capture_output=True, text=True).stdout == "hello\n"
    # secure_getenv came with glibc 2.17: an executable does not link; a shared library does,
    # with the symbol left undefined and unversioned, which the gate names.
    argv = [str(zig212), "-x", "c", "-", "-o"]
    refused = subprocess.run(
        [*argv, str(tmp_path / "x")], input=MAIN_SECURE_GETENV_C, capture_output=True, text=True
    )
    assert refused.returncode != 0 and "secure_getenv" in refused.stderr, refused.stderr
    library = tree / "lib" / "libhome.so"
    subprocess.run(
        [*argv, str(library), "-shared", "-fPIC"], input=SECURE_GETENV_C, text=True, check=True
    )
    bad = scan(tmp_path / "root", "2.12")
    assert _kinds(bad) == ["unversioned-symbol"]
    assert bad.findings[0].message == (
        "opt/salt/lib/libhome.so needs secure_getenv (glibc 2.17) with no version, and no "
        "library of the tree exports it: above the ceiling 2.12"
    )
    assert scan(tmp_path / "root", "2.17").ok


def test_getrandom_needs_225_boundary(tmp_path, gcc):
    tree = _salt(tmp_path)
    _shared(gcc, tree / "lib" / "librand.so", GETRANDOM_C)
    report = scan(tmp_path / "root", "2.17")
    assert report.max_glibc == "2.25"
    [finding] = report.findings
    assert finding.kind == "glibc-too-new"
    assert "needs GLIBC_2.25" in finding.message
    assert "getrandom@GLIBC_2.25" in finding.message
    assert scan(tmp_path / "root", "2.25").ok  # at the ceiling is allowed
    assert not scan(tmp_path / "root", "2.24").ok
    assert not scan(tmp_path / "root", "2.5").ok


def test_arc4random_needs_236(tmp_path, gcc):
    tree = _salt(tmp_path)
    _shared(gcc, tree / "lib" / "libpick.so", ARC4RANDOM_C)
    assert scan(tmp_path / "root", "2.36").ok
    report = scan(tmp_path / "root", "2.31")  # debian11
    assert [f.kind for f in report.findings] == ["glibc-too-new"]
    assert "arc4random@GLIBC_2.36" in report.findings[0].message


def test_glibc_private_is_flagged(tmp_path, gcc):
    tree = _salt(tmp_path)
    src = "extern char **_dl_argv;\nchar *first(void) { return _dl_argv[0]; }\n"
    _shared(gcc, tree / "lib" / "libpriv.so", src, "/lib64/ld-linux-x86-64.so.2")
    report = scan(tmp_path / "root", "2.36")
    assert _kinds(report) == ["glibc-private"]
    assert "_dl_argv@GLIBC_PRIVATE" in report.findings[0].message


def test_packed_relocations_count_as_236(tmp_path, gcc):
    tree = _salt(tmp_path)
    src = "static int a, b;\nint *p[] = {&a, &b};\nint main(void) { return *p[0]; }\n"
    _cc(gcc, tree / "bin" / "relr", src, "-Wl,-z,pack-relative-relocs")
    report = scan(tmp_path / "root", "2.35")
    assert report.max_glibc == "2.36"
    [finding] = report.findings
    assert "needs GLIBC_ABI_DT_RELR, above the ceiling 2.35" in finding.message
    assert scan(tmp_path / "root", "2.36").ok


# --- libstdc++ ----------------------------------------------------------------------------


def test_system_libstdcxx_within_the_target_gcc(tmp_path, gcc217):
    gxx = shutil.which("g++")
    if not gxx:
        pytest.skip("the host has no g++")
    tree = _salt(tmp_path)
    _shared(gxx, tree / "lib" / "libgreet.so", CXX_SRC, lang="c++")
    report = scan(tmp_path / "root", "2.17")
    assert "libstdcxx-too-new" in _kinds(report)
    msg = next(f.message for f in report.findings if f.kind == "libstdcxx-too-new")
    assert "GLIBCXX_3.4.21" in msg and "at most GLIBCXX_3.4.19" in msg
    assert scan(tmp_path / "root", "2.36").ok  # Debian 12's libstdc++ has it

    gxx217 = gcc217.with_name(gcc217.name.replace("-gcc", "-g++"))
    static = ("-static-libstdc++", "-static-libgcc")
    _shared(gxx217, tree / "lib" / "libgreet.so", CXX_SRC, *static, lang="c++")
    report = scan(tmp_path / "root", "2.17")
    assert report.ok, report.findings
    assert "libstdc++.so.6" not in report.elf_files[0].needed


# --- libraries from the system or from the tree -------------------------------------------


def test_library_from_outside_the_tree_is_flagged(tmp_path, gcc, libfake):
    tree = _salt(tmp_path)
    ext = tree / "lib" / "python3.11" / "ext.so"
    _shared(gcc, ext, USES_FAKE_C, f"-L{libfake.parent}", "-l:libfake.so.1")
    for portable in (True, False):
        report = scan(tmp_path / "root", "2.36", portable=portable)
        if portable:
            [finding] = report.findings
            assert finding.kind == "system-library"
            assert "needs libfake.so.1" in finding.message
            assert finding.path == "opt/salt/lib/python3.11/ext.so"
        else:  # listed for the package's Depends, not a finding
            assert report.ok
            assert report.system_needs == {"libfake.so.1": ["opt/salt/lib/python3.11/ext.so"]}


def test_library_in_the_tree_through_origin_rpath(tmp_path, gcc, libfake):
    tree = _salt(tmp_path)
    # the real file and its soname symlink, as packages ship them
    shutil.copy(libfake, tree / "lib" / "libfake.so.1.0.0")
    (tree / "lib" / "libfake.so.1").symlink_to("libfake.so.1.0.0")
    ext = tree / "lib" / "python3.11" / "ext.so"
    link = (f"-L{libfake.parent}", "-l:libfake.so.1")
    _shared(gcc, ext, USES_FAKE_C, *link, "-Wl,-rpath,$ORIGIN/../")
    report = scan(tmp_path / "root", "2.17")
    assert report.files == 2  # ext.so and libfake.so.1.0.0, the symlink not counted
    assert report.ok, report.findings
    [ext_info] = [e for e in report.elf_files if e.path.endswith("ext.so")]
    assert ext_info.runpath == ["$ORIGIN/../"]
    assert ext_info.needed == ["libfake.so.1"]

    # the same tree scanned from /opt/salt itself: same verdict, paths relative to it
    inner = scan(tree, "2.17")
    assert inner.ok and inner.files == 2
    assert {e.path for e in inner.elf_files} == {"lib/libfake.so.1.0.0", "lib/python3.11/ext.so"}

    # an absolute rpath inside the prefix is mapped onto the tree
    _shared(gcc, ext, USES_FAKE_C, *link, "-Wl,-rpath,/opt/salt/lib")
    assert scan(tmp_path / "root", "2.17").ok

    # an rpath that does not reach lib/: the tree's copy exists but the loader won't see it
    _shared(gcc, ext, USES_FAKE_C, *link, "-Wl,-rpath,$ORIGIN")
    report = scan(tmp_path / "root", "2.17")
    assert _kinds(report) == ["not-on-rpath"]
    assert "opt/salt/lib/libfake.so.1" in report.findings[0].message


def test_symlink_leaving_the_tree_does_not_satisfy(tmp_path, gcc, libfake):
    tree = _salt(tmp_path)
    (tree / "lib" / "libfake.so.1").symlink_to(libfake)  # absolute, outside /opt/salt
    ext = tree / "lib" / "ext.so"
    _shared(gcc, ext, USES_FAKE_C, f"-L{libfake.parent}", "-l:libfake.so.1", "-Wl,-rpath,$ORIGIN")
    assert os.path.exists(tree / "lib" / "libfake.so.1")  # on this host, yes; on the target, no
    report = scan(tmp_path / "root", "2.17")
    assert report.files == 1
    assert _kinds(report) == ["system-library"]


def test_rpath_outside_the_tree_is_flagged(tmp_path, gcc, libfake):
    tree = _salt(tmp_path)
    shutil.copy(libfake, tree / "lib" / "libfake.so.1")
    _shared(
        gcc,
        tree / "lib" / "ext.so",
        USES_FAKE_C,
        f"-L{libfake.parent}",
        "-l:libfake.so.1",
        f"-Wl,-rpath,{libfake.parent}:$ORIGIN",
    )
    report = scan(tmp_path / "root", "2.17")
    assert _kinds(report) == ["rpath-outside-tree"]
    assert str(libfake.parent) in report.findings[0].message


@pytest.mark.parametrize("lib", ["ssl", "z"])
def test_real_system_libraries(tmp_path, gcc, lib):
    """A portable payload takes neither libssl nor libz from the system; a release's own
    payload may (its package depends on them)."""
    if not (HOST_LIBDIR / f"lib{lib}.so").exists():
        pytest.skip(f"lib{lib}-dev is not installed")
    tree = _salt(tmp_path)
    _shared(
        gcc,
        tree / "lib" / "ext.so",
        "int f(void) { return 0; }\n",
        "-Wl,--no-as-needed",
        f"-l{lib}",
    )
    report = scan(tmp_path / "root", "2.36")
    [finding] = report.findings
    assert finding.kind == "system-library"
    assert f"lib{lib}.so." in finding.message
    system = scan(tmp_path / "root", "2.36", portable=False)
    assert system.ok and list(system.system_needs) == [
        f"lib{lib}.so.{'3' if lib == 'ssl' else '1'}"
    ]


# --- what is and isn't counted -------------------------------------------------------------


def test_symlinks_and_non_elf_files(tmp_path, gcc217):
    tree = _salt(tmp_path)
    real = _drop_abi_tag(_cc(gcc217, tree / "bin" / "python3.11", HELLO_C))
    (tree / "bin" / "python3").symlink_to("python3.11")
    (tree / "bin" / "python").symlink_to(real)
    (tree / "lib64").symlink_to("lib")  # a directory symlink, as venvs have
    (tree / "lib" / "libalso.so").symlink_to("../bin/python3.11")
    (tree / "bin" / "salt-call").write_text("#!/opt/salt/bin/python3\nprint('hi')\n")
    (tree / "lib" / "notreally.so").write_text("not an ELF file at all\n")
    (tree / "lib" / "empty.so").write_bytes(b"")
    (tree / "lib" / "python.pyc").write_bytes(b"\xa7\r\r\n" + b"\0" * 64)
    (tree / "bin" / "python3.11-gdb.py").write_text("# gdb helper\n")
    report = scan(tmp_path / "root", "2.17")
    assert report.files == 1
    assert [e.path for e in report.elf_files] == ["opt/salt/bin/python3.11"]
    assert report.ok, report.findings


def test_damaged_elf_is_reported(tmp_path):
    tree = _salt(tmp_path)
    (tree / "lib" / "broken.so").write_bytes(b"\x7fELF" + b"\x02\x01\x01" + b"\xff" * 20)
    report = scan(tmp_path / "root", "2.17")
    assert report.files == 1
    assert _kinds(report) == ["unreadable"]


# --- the command line ---------------------------------------------------------------------


def test_cli_exit_code_and_one_line_per_finding(tmp_path, gcc, gcc217, capsys):
    tree = _salt(tmp_path)
    _drop_abi_tag(_cc(gcc217, tree / "bin" / "hello", HELLO_C))
    assert abi_ceiling.main([str(tmp_path / "root"), "--box", "centos7"]) == 0
    out = capsys.readouterr().out
    assert "2.17" in out and "glibc-too-new" not in out

    _shared(gcc, tree / "lib" / "librand.so", GETRANDOM_C)
    _shared(gcc, tree / "lib" / "libpick.so", ARC4RANDOM_C)
    assert abi_ceiling.main([str(tmp_path / "root"), "--glibc", "2.17"]) == 1
    lines = [ln for ln in capsys.readouterr().out.splitlines() if ln.startswith("glibc-too-new")]
    assert len(lines) == 2
    assert any("opt/salt/lib/librand.so needs GLIBC_2.25" in ln for ln in lines)
    assert any("opt/salt/lib/libpick.so needs GLIBC_2.36" in ln for ln in lines)

    with pytest.raises(SystemExit) as exc:
        abi_ceiling.main([str(tmp_path / "root"), "--glibc", "2.x"])
    assert exc.value.code == 2


# --- the debian12 payload, when it has been built -----------------------------------------


def test_debian12_payload_within_its_glibc(tmp_path):
    debs = sorted((REPO / "dist" / "debian12").glob("salt_*_amd64.deb"))
    if not debs:
        pytest.skip("no dist/debian12/salt_*.deb (harness build debian12)")
    from harness.catalog import load_box

    root = tmp_path / "root"
    root.mkdir()
    # the whole data archive but Python sources and bytecode (no ELF there): half the time
    data = subprocess.run(
        ["dpkg-deb", "--fsys-tarfile", str(debs[-1])], capture_output=True, check=True
    ).stdout
    skip = [f"--exclude=*.{ext}" for ext in ("py", "pyc", "pyi")]
    subprocess.run(["tar", "-x", "-C", str(root), *skip], input=data, check=True)
    report = scan(tmp_path / "root", load_box("debian12").glibc, portable=False)
    assert report.files > 0
    assert report.ok, "\n".join(map(str, report.findings))


def test_a_grafted_library_is_found_by_its_unique_soname(tmp_path, gcc, libfake):
    """auditwheel's grafted copies (hashed sonames no system has) are loaded by the module
    that brings them, before the library that needs them: no rpath needed for those."""
    tree = _salt(tmp_path)
    libs = tree / "lib" / "python3.11" / "site-packages" / "pkg.libs"
    grafted = "libfake-0123abcd.so.1"
    _shared(gcc, libs / grafted, FAKE_C, f"-Wl,-soname,{grafted}")
    user = libs / "libuser-89abcdef.so.2"
    _shared(gcc, user, USES_FAKE_C, f"-L{libs}", f"-l:{grafted}")
    assert scan(tmp_path / "root", "2.36").ok
    # the same without the hash: a system could have it, and would win
    _shared(gcc, libs / "libfake.so.1", FAKE_C, "-Wl,-soname,libfake.so.1")
    _shared(gcc, user, USES_FAKE_C, f"-L{libs}", "-l:libfake.so.1")
    assert _kinds(scan(tmp_path / "root", "2.36")) == ["not-on-rpath"]
