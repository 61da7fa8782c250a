"""The glibc boxes' compat library (harness/providers/nspawn/glibc_root.py): a program linked
within EL6's glibc 2.12 asks for memcpy@GLIBC_2.2.5 and posix_spawnp@GLIBC_2.2.5, which the
toolchain's glibc 2.17 lacks and every real glibc has; preloaded, the library lets it run,
and adds nothing else."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from harness import toolchain
from harness.providers.nspawn import glibc_root

# memcpy through a pointer, so that the compiler cannot inline it; posix_spawnp of a program
# that is not there starts a child that exits 127 (glibc 2.17 reports exec errors so).
COPIES_C = """
#include <spawn.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
void *(*volatile copy)(void *, const void *, size_t) = memcpy;
int main(void) {
    char b[8], *argv[] = {"none", NULL};
    pid_t pid;
    int status = 0, spawned;
    copy(b, "copied", 7);
    spawned = posix_spawnp(&pid, "/no/such/program", NULL, NULL, argv, argv + 1);
    if (spawned == 0) waitpid(pid, &status, 0);
    printf("%s %d %d\\n", b, spawned, WEXITSTATUS(status));
    return 0;
}
"""


@pytest.fixture(scope="module")
def tools(tmp_path_factory) -> tuple[Path, Path]:
    log = tmp_path_factory.mktemp("tools") / "tools.log"
    return toolchain.ensure_toolchain(log), toolchain.ensure_zig(log)


@pytest.fixture(scope="module")
def runtime(tmp_path_factory, tools) -> Path:
    """A root of the toolchain's glibc 2.17 runtime, with the compat library built in."""
    tc, _ = tools
    root = tmp_path_factory.mktemp("root")
    lib64 = root / "lib64"
    lib64.mkdir()
    sysroot = toolchain.sysroot(tc) / "lib"
    for soname in ("ld-linux-x86-64.so.2", *toolchain.GLIBC_RUNTIME):
        shutil.copy2((sysroot / soname).resolve(), lib64 / soname)
    work = tmp_path_factory.mktemp("work")
    glibc_root._compile_compat(tc, work, root, work / "compat.log")
    (root / "usr/lib64").rename(root / "compat")  # at hand, not preloaded yet
    return root


def compile_program(compiler: list[str], out: Path) -> Path:
    source = out.with_suffix(".c")
    source.write_text(COPIES_C)
    subprocess.run([*compiler, "-O2", "-o", str(out), str(source)], check=True)
    return out


def run_in(root: Path, program: Path, preload: bool) -> subprocess.CompletedProcess:
    shutil.copy2(program, root / program.name)
    (root / "etc").mkdir(exist_ok=True)
    listed = root / "etc/ld.so.preload"
    listed.write_text("/compat/libsvh-compat.so\n" if preload else "")
    return subprocess.run(
        ["chroot", str(root), f"/{program.name}"], capture_output=True, text=True, timeout=30
    )


def test_an_el6_program_needs_the_compat_memcpy_and_runs_with_it(tmp_path, tools, runtime):
    _, zig = tools
    target = ["cc", "-target", "x86_64-linux-gnu.2.12"]
    program = compile_program([str(zig / "zig"), *target], tmp_path / "el6")
    needed = subprocess.run(["readelf", "-W", "--dyn-syms", str(program)], capture_output=True)
    assert b"memcpy@GLIBC_2.2.5" in needed.stdout
    assert b"posix_spawnp@GLIBC_2.2.5" in needed.stdout
    bare = run_in(runtime, program, preload=False)
    assert bare.returncode != 0 and "version GLIBC_2.2.5 not defined" in bare.stderr
    shimmed = run_in(runtime, program, preload=True)
    assert (shimmed.returncode, shimmed.stdout) == (0, "copied 0 127\n"), shimmed.stderr


def test_the_compat_library_exports_only_the_old_versions(tools, runtime, tmp_path):
    exported = subprocess.run(
        ["readelf", "-W", "--dyn-syms", str(runtime / "compat/libsvh-compat.so")],
        capture_output=True,
        text=True,
    ).stdout
    rows = [line.split() for line in exported.splitlines() if " FUNC " in line]
    defined = [row[7] for row in rows if row[6] != "UND"]
    wanted = [f"{name}@GLIBC_2.2.5" for name in glibc_root.COMPAT_SYMBOLS]
    assert sorted(defined) == sorted(wanted), exported
    # A program of the toolchain itself (memcpy@GLIBC_2.14) keeps glibc's own.
    tc, _ = tools
    gcc = tc / "bin" / f"{toolchain.TRIPLET}-gcc"
    program = compile_program([str(gcc)], tmp_path / "el7")
    shimmed = run_in(runtime, program, preload=True)
    assert (shimmed.returncode, shimmed.stdout) == (0, "copied 0 127\n"), shimmed.stderr
