"""A portable CPython 3.11 in /opt/salt for glibc 2.17 (EL7), built on a Debian build box.

Every C library the interpreter needs (OpenSSL 3, SQLite, libffi, xz, bzip2, zlib, ncurses,
readline, gdbm, libuuid, expat) and libzmq for pyzmq are built from Debian's orig tarballs
with the ppbt toolchain (gcc 11, glibc 2.17 sysroot: see toolchain.py) into /opt/salt/lib,
and every ELF finds them through an $ORIGIN-relative RPATH, so the tree needs nothing from
the target but glibc 2.17. We drive the toolchain ourselves instead of `relenv build`
offline: relenv pins upstream tarballs by checksum, and the only sources reachable here,
Debian's orig tarballs, differ from them in version and checksum.

    version = install(runner, box)   # /opt/salt on the box, built or unpacked from the cache
    send_toolchain(runner)           # the toolchain at TOOLCHAIN on the box, for compile_env()
    env = compile_env()              # CC, LDFLAGS, ZMQ_PREFIX ... for sdists such as pyzmq
    run_on_glibc217(runner, code)    # python3 -c CODE in a root of glibc 2.17 + /opt/salt only

A cold build takes ~9 minutes on two cores; the tree is cached on the host as a tarball
keyed by the sources, the toolchain and the recipe (builds/portable_recipe.sh).
"""

from __future__ import annotations

import shlex
import shutil
import tarfile
import tempfile
from pathlib import Path
from typing import NamedTuple

from harness import progress, toolchain

from . import abi_ceiling, cpython
from .errors import BuildError
from .inputs import cache_root, fetch_url, filling, pip_download, sha256_file
from .locks import digest
from .remote import BoxRunner

PREFIX = cpython.PREFIX
WORK = "/var/tmp/svh-portable"
TOOLCHAIN = "/var/tmp/svh-toolchain"  # on the box; compile_env() relies on it
RECIPE = Path(__file__).with_name("portable_recipe.sh")


class Source(NamedTuple):
    path: str  # in the Debian mirror
    sha256: str


# Debian orig tarballs (bookworm, as the mirror served them). zeromq3 is bookworm's 4.3.4:
# trixie's 4.3.5 is in its Sources index but the mirror answers 404 for its files.
SOURCES = [
    Source(
        "pool/main/z/zlib/zlib_1.2.13.dfsg.orig.tar.bz2",
        "71feb7947e3c00ef125f83b79a4e529bde31171e5babe48b391f06758d1ab0a1",
    ),
    Source(
        "pool/main/b/bzip2/bzip2_1.0.8.orig.tar.gz",
        "ab5a03176ee106d3f0fa90e381da478ddae405918153cca248e682cd0c4a2269",
    ),
    Source(
        "pool/main/x/xz-utils/xz-utils_5.4.1.orig.tar.xz",
        "5d9827aa1875b21c288f78864bb26d2650b436ea8d2cad364e4921eb6266a5a5",
    ),
    Source(
        "pool/main/libf/libffi/libffi_3.4.4.orig.tar.gz",
        "d66c56ad259a82cf2a9dfc408b32bf5da52371500b84745f7fb8b645712df676",
    ),
    Source(
        "pool/main/o/openssl/openssl_3.0.20.orig.tar.gz",
        "c80a01dfc70ece4dc21168932c37739042d404d46ccc81a5986dd75314ecda6f",
    ),
    Source(
        "pool/main/n/ncurses/ncurses_6.4.orig.tar.gz",
        "6931283d9ac87c5073f30b6290c4c75f21632bb4fc3603ac8100812bed248159",
    ),
    Source(
        "pool/main/r/readline/readline_8.2.orig.tar.gz",
        "3feb7171f16a84ee82ca18a36d7b9be109a52c04f492a053331d7d1095007c35",
    ),
    Source(
        "pool/main/g/gdbm/gdbm_1.23.orig.tar.gz",
        "74b1081d21fff13ae4bd7c16e5d6e504a4c26f7cde1dca0d963a484174bbcacd",
    ),
    Source(
        "pool/main/u/util-linux/util-linux_2.38.1.orig.tar.xz",
        "60492a19b44e6cf9a3ddff68325b333b8b52b6c59ce3ebd6a0ecaa4c5117e84f",
    ),
    Source(
        "pool/main/s/sqlite3/sqlite3_3.40.1.orig.tar.xz",
        "aaa776260ab4dc976db34aa7891819484c8676b5b2783123ebc6301e2ca5d655",
    ),
    Source(
        "pool/main/e/expat/expat_2.5.0.orig.tar.gz",
        "ab00ee05c7067fd10a35c5d2a4922ebba746ddd50ff83b79c828da17bbdf1757",
    ),
    Source(
        "pool/main/z/zeromq3/zeromq3_4.3.4.orig.tar.gz",
        "0ff5a531c9ffaf0dfdc7dc78d13d1383088f454896d252934c429b2554d10559",
    ),
    Source(cpython.SOURCE_PATH, cpython.SOURCE_SHA256),
    # Build-only: tclsh generates SQLite's amalgamation (bookworm amd64 binaries).
    Source(
        "pool/main/t/tcl8.6/libtcl8.6_8.6.13+dfsg-2_amd64.deb",
        "976c4235b816635e1756016f3adbabb634e8b97a9f6b97cf901be099e4fd2487",
    ),
    Source(
        "pool/main/t/tcl8.6/tcl8.6_8.6.13+dfsg-2_amd64.deb",
        "4d539bdd459ea9fd5be25bf46c3c928ae5eb9cfdb5a1bf7ca25cacc596327d9d",
    ),
]
# Build-only: CMake (libzmq, expat), from PyPI; 3.x still accepts libzmq's old
# cmake_minimum_required.
CMAKE_VERSION = "3.31.10"
CMAKE_WHEEL = f"cmake-{CMAKE_VERSION}-py3-none-manylinux_2_17_x86_64.manylinux2014_x86_64.whl"
CMAKE_SHA256 = "2f766bb46367e5e0559fa33184653754bce044583a06014dcaebf8e6dff8a1f1"

# The glibc runtime a target provides; anything else an ELF needs must be in /opt/salt/lib.
# Ceilings: EL7's glibc 2.17 and gcc 4.8 runtime (libstdc++ 3.4.19, CXXABI 1.3.7, GCC 4.8.0).
GLIBC217_ROOT = r"""
R="$W/el7root"
rm -rf "$R" && mkdir -p "$R/lib" "$R/opt" "$R/tmp" "$R/proc" "$R/dev" && ln -s lib "$R/lib64"
cd "$TC/x86_64-linux-gnu/sysroot/lib"
cp -a ld-* libc-* libc.so.6 libm-* libm.so.6 libpthread* libdl* librt* libutil* libcrypt* \
    libnsl* libresolv* libnss_files* libnss_dns* libgcc_s.so.1 "$R/lib/"
cp -a "$P" "$R/opt/"
mount -t proc proc "$R/proc" && mount --bind /dev "$R/dev"
status=0
chroot "$R" /opt/salt/bin/python3 -I -c "$CODE" || status=$?
umount "$R/dev" "$R/proc" && rm -rf "$R"
exit $status
"""
STDLIB_CODE = """\
import os, ssl, hashlib, sqlite3, ctypes, lzma, readline, bz2, zlib, uuid, _gdbm, curses
import pyexpat, decimal
ctx = ssl.create_default_context()
print(os.confstr("CS_GNU_LIBC_VERSION"), "|", ssl.OPENSSL_VERSION, "| sqlite",
      sqlite3.sqlite_version, "|", pyexpat.EXPAT_VERSION, "| uuid1", uuid.uuid1().version,
      "| sha3", hashlib.sha3_256(b"").hexdigest()[:8])
"""


def _url(path: str) -> str:
    # The mirror cpython.py fetches from (SVH_DEBIAN_MIRROR or the host's apt mirror).
    return cpython.source_url().removesuffix(cpython.SOURCE_PATH) + path


def _fetch_cmake(log: Path) -> Path:
    dest = cache_root() / "sources" / CMAKE_WHEEL
    if dest.is_file() and sha256_file(dest) == CMAKE_SHA256:
        return dest
    with tempfile.TemporaryDirectory() as tmp:
        req = Path(tmp) / "cmake.txt"
        req.write_text(f"cmake=={CMAKE_VERSION} --hash=sha256:{CMAKE_SHA256}\n")
        pip_download(req, Path(tmp), "3.11", toolchain.GLIBC, log, "fetching cmake (build tool)")
        dest.parent.mkdir(parents=True, exist_ok=True)
        shutil.move(Path(tmp) / CMAKE_WHEEL, dest)
    return dest


def fetch_sources(log: Path) -> list[Path]:
    """Every input of a cold build on the host (downloaded once, sha256-pinned)."""
    return [fetch_url(_url(s.path), s.sha256, log) for s in SOURCES] + [_fetch_cmake(log)]


def cache_key() -> str:
    parts = [s.sha256 for s in SOURCES] + [CMAKE_SHA256, toolchain.WHEEL_SHA256]
    recipe = RECIPE.read_text() + toolchain.WRAPPERS.read_text()
    return digest("python-el7-v1", *parts, recipe, "x86_64")[:20]


def send_toolchain(runner: BoxRunner) -> None:
    """Put the ppbt toolchain at TOOLCHAIN on the box (once per box)."""
    root = toolchain.ensure_toolchain(runner.log)
    gcc = f"{TOOLCHAIN}/bin/{toolchain.TRIPLET}-gcc"
    if runner.output(f"test -x {gcc} && echo yes || true", "looking for the toolchain").strip():
        return
    runner.copy_in(root, TOOLCHAIN, "copying the glibc 2.17 toolchain in")


def compile_env() -> dict[str, str]:
    """Environment for compiling sdists on the box against /opt/salt for glibc 2.17.

    Needs send_toolchain() first. pyzmq (scikit-build-core) takes ZMQ_PREFIX and links the
    libzmq built here; setuptools projects (timelib) take CC/LDSHARED/CFLAGS/LDFLAGS.
    """
    t = toolchain.TRIPLET
    flags = "-O2 -g0 -ffile-prefix-map=/tmp/="  # pip builds under /tmp: keep that path out
    return {
        "PATH": f"{TOOLCHAIN}/bin:/usr/sbin:/usr/bin:/sbin:/bin",
        "CC": f"{t}-gcc",
        "CXX": f"{t}-g++",
        "LDSHARED": f"{t}-gcc -pthread -shared",
        "LDCXXSHARED": f"{t}-g++ -pthread -shared",
        "AR": f"{t}-ar",
        "CFLAGS": flags,
        "CXXFLAGS": flags,
        "CPPFLAGS": f"-I{PREFIX}/include",
        # EL7's libstdc++ and libgcc_s are too old for gcc 11's: link them in.
        "LDFLAGS": f"-L{PREFIX}/lib -Wl,-rpath,{PREFIX}/lib -static-libstdc++ -static-libgcc",
        "ZMQ_PREFIX": PREFIX,
        "PYZMQ_NO_BUNDLE": "1",
    }


def run_on_glibc217(runner: BoxRunner, code: str) -> str:
    """Run /opt/salt/bin/python3 -I -c CODE in a root holding only glibc 2.17 and /opt/salt
    (needs send_toolchain()); return its output."""
    return runner.output(
        f"set -e\nP={PREFIX} TC={TOOLCHAIN} W={WORK} CODE={shlex.quote(code)}\n{GLIBC217_ROOT}",
        "running /opt/salt's interpreter in a root that holds only glibc 2.17 and /opt/salt",
    )


def check(runner: BoxRunner) -> None:
    """The stdlib imports, and it runs on a real glibc 2.17 (its ELF files: check_abi)."""
    cpython.check_stdlib(runner)
    runner.note(f"on glibc 2.17: {run_on_glibc217(runner, STDLIB_CODE).strip()}")


def check_abi(tarball: Path, log: Path) -> None:
    """Every ELF of the built tree within EL7's ABI (builds.abi_ceiling, pyelftools)."""
    with tempfile.TemporaryDirectory(prefix="svh-portable-abi-") as tmp:
        with tarfile.open(tarball) as tar:
            tar.extractall(tmp, filter="tar")
        report = abi_ceiling.scan(Path(tmp), toolchain.GLIBC, portable=True)
    with open(log, "a") as f:
        f.write(f"\n### portable CPython, ABI ceiling: {report.summary()}\n")
        f.writelines(f"{finding.kind}: {finding.message}\n" for finding in report.findings)
    if report.findings:
        raise BuildError(
            f"the portable CPython breaks EL7's ABI: {report.findings[0].message}", log
        )


def install(runner: BoxRunner, box) -> str:
    """Put the portable interpreter into /opt/salt on the box; return its version."""
    cached = cache_root() / "python-el7" / cache_key() / "python.tar"
    if cached.is_file():
        with progress.step(f"{box.name}: portable CPython {cpython.VERSION} (cached)"):
            runner.run(f"rm -rf {PREFIX}", "clearing /opt/salt")
            runner.send_tar(cached, PREFIX, "unpacking the cached portable CPython")
    else:
        with progress.step(
            f"{box.name}: building CPython {cpython.VERSION} and its libraries for glibc 2.17 "
            "(make -j2, ~9 minutes)"
        ):
            sources = fetch_sources(runner.log)
            runner.run(f"rm -rf {WORK} {PREFIX} && mkdir -p {WORK}/dl", "preparing the build")
            send_toolchain(runner)
            for src in [*sources, RECIPE, toolchain.WRAPPERS]:
                runner.send_file(src, f"{WORK}/dl/{src.name}", f"copying {src.name} in")
            wrappers = f"{WORK}/dl/{toolchain.WRAPPERS.name}"
            runner.run(
                f"WORK={WORK} PREFIX={PREFIX} TOOLCHAIN={TOOLCHAIN} TOOLCHAIN_WRAPPERS={wrappers} "
                f"bash {WORK}/dl/{RECIPE.name}",
                "building the portable CPython and its libraries",
                timeout=4 * 3600,
            )
            check(runner)
            runner.run(f"tar -C {PREFIX} -cf {WORK}/python.tar .", "packing /opt/salt")
            with filling(cached.parent) as tmp:
                runner.fetch(
                    f"{WORK}/python.tar", tmp / cached.name, "caching the portable CPython"
                )
                check_abi(tmp / cached.name, runner.log)
            runner.run(f"rm -rf {WORK}", "removing the build directory")
    cpython.check_stdlib(runner)
    return runner.output(
        f"{PREFIX}/bin/python3 -I -c 'import platform; print(platform.python_version())'",
        "asking the portable CPython its version",
    ).strip()
