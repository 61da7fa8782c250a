"""A portable CPython in /opt/salt for an old glibc, built on a Debian build box: 3.11 for
glibc 2.17 (EL7, and any newer release's older Salt line), 3.9 for glibc 2.12 (EL6), 2.7 for
glibc 2.5 (EL5).

Every C library the interpreter needs (OpenSSL, SQLite, libffi, xz, bzip2, zlib, ncurses,
readline, gdbm, libuuid, expat) and, for EL7, libzmq for pyzmq are built from Debian's orig
tarballs into /opt/salt/lib, and every ELF finds them through an $ORIGIN-relative RPATH, so
the tree needs nothing from the target but its glibc. The compiler is the ppbt toolchain
(gcc 11, a glibc 2.17 sysroot) for 2.17, and zig cc for older glibc versions (see
harness/toolchain.py). Python 3 builds with builds/portable_recipe.sh, Python 2.7 with
builds/portable_recipe27.sh (its configure, modules and install differ). We drive the
toolchains ourselves instead of `relenv build` offline: relenv pins upstream tarballs by
checksum, and the only sources reachable here, Debian's orig tarballs, differ from them in
version and checksum.

    version = install(runner, box)   # /opt/salt on the box, built or unpacked from the cache
    send_toolchain(runner, box)      # the compilers on the box, for compile_env()
    env = compile_env(box)           # CC, LDFLAGS, ZMQ_PREFIX ... for sdists such as pyzmq
    run_on_glibc217(runner, code)    # python3 -c CODE in a root of glibc 2.17 + /opt/salt only

A cold build takes ~9 minutes on two cores; the tree is cached on the host as a tarball
keyed by the target, its sources, the toolchain and its recipe.
"""

from __future__ import annotations

import shlex
import shutil
import tarfile
import tempfile
from pathlib import Path
from typing import NamedTuple

from harness import platform, progress, state, toolchain

from . import abi_ceiling, cpython, zig_cache
from .errors import BuildError
from .inputs import cache_root, fetch_url, filling, pip_download, sha256_file
from .locks import digest
from .remote import BoxRunner

PREFIX = cpython.PREFIX
WORK = "/var/tmp/svh-portable"
TOOLCHAIN = "/var/tmp/svh-toolchain"  # on the box; compile_env() relies on it
ZIG = "/var/tmp/svh-zig"  # on the box, for targets below glibc 2.17
RECIPE = Path(__file__).with_name("portable_recipe.sh")
RECIPE27 = Path(__file__).with_name("portable_recipe27.sh")
# What every recipe sources: the tools, the C libraries, the ELF relocation.
LIBRARIES = Path(__file__).with_name("portable_libraries.sh")
ZIG_WRAPPERS = Path(__file__).with_name("zig_wrappers.sh")
# What zig's headers declare beyond glibc 2.5 (files/portable/below_glibc_2_7.h).
BELOW_GLIBC_2_7 = Path(__file__).with_name("files") / "portable" / "below_glibc_2_7.h"
BELOW_GLIBC_2_7_ON_BOX = f"{ZIG}-below_glibc_2_7.h"


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
ZEROMQ = Source(
    "pool/main/z/zeromq3/zeromq3_4.3.4.orig.tar.gz",
    "0ff5a531c9ffaf0dfdc7dc78d13d1383088f454896d252934c429b2554d10559",
)


class Target(NamedTuple):
    """What a portable interpreter is built for, and from what."""

    glibc: str  # the oldest glibc it runs on: no ELF needs a newer symbol version
    series: str  # CPython's minor version
    python: Source
    openssl: Source
    with_zmq: bool  # build libzmq (else pyzmq's wheel fits the target and brings its own)
    zig: bool  # compiled with zig cc (else the ppbt toolchain)
    recipe: Path = RECIPE  # the shell recipe that builds it (part of its cache key)
    # Its C libraries are the set built once for SHARED_LIBRARIES_GLIBC (else built with it).
    shared_libraries: bool = False

    @property
    def below_glibc_2_7(self) -> bool:
        """Older than glibc 2.7, where zig's headers need BELOW_GLIBC_2_7 and __GLIBC__."""
        return _glibc_minor(self.glibc) < 7

    @property
    def python_name(self) -> str:
        """The interpreter's name in /opt/salt/bin: python3, python2.7."""
        return "python2.7" if self.series == "2.7" else "python3"

    @property
    def sources(self) -> list[Source]:
        return [*SOURCES, self.openssl, *([ZEROMQ] if self.with_zmq else []), self.python]


EL7 = Target(
    "2.17",
    "3.11",
    Source(cpython.SOURCE_PATH, cpython.SOURCE_SHA256),
    Source(
        "pool/main/o/openssl/openssl_3.0.20.orig.tar.gz",
        "c80a01dfc70ece4dc21168932c37739042d404d46ccc81a5986dd75314ecda6f",
    ),
    with_zmq=True,
    zig=False,
)
# Bullseye's CPython 3.9 and OpenSSL 1.1.1 (Salt 3005, EL6's line, runs on 3.9).
EL6 = Target(
    "2.12",
    "3.9",
    Source(
        "pool/main/p/python3.9/python3.9_3.9.2.orig.tar.xz",
        "3c2034c54f811448f516668dce09d24008a0716c3a794dd8639b5388cbde247d",
    ),
    Source(
        "pool/main/o/openssl/openssl_1.1.1w.orig.tar.gz",
        "cf3098950cb4d853ad95c0841f1f9c6d3dc102dccfcacd521d93925208b76ac8",
    ),
    with_zmq=False,
    zig=True,
    shared_libraries=True,
)
# Bullseye's CPython 2.7.18 (Salt 3000, EL5's line, is the last on Python 2) and the same
# OpenSSL 1.1.1, the newest line 2.7's _ssl takes.
EL5 = Target(
    "2.5",
    "2.7",
    Source(
        "pool/main/p/python2.7/python2.7_2.7.18.orig.tar.gz",
        "da3080e3b488f648a3d7a4560ddee895284c3380b11d6de75edb986526b9a814",
    ),
    EL6.openssl,
    with_zmq=False,
    zig=True,
    recipe=RECIPE27,
    shared_libraries=True,
)
TARGETS = (EL5, EL6, EL7)  # oldest glibc first
# EL6's and EL5's interpreters link one set of C libraries (the same sources, OpenSSL 1.1.1
# included), compiled once with zig cc for the older glibc: what links within 2.5 loads on
# 2.12, as glibc keeps every old symbol version. A cold build compiles them once, not twice.
SHARED_LIBRARIES_GLIBC = "2.5"


def target(box) -> Target:
    """The portable build for the box: the one for the newest glibc not above the box's
    (EL7's runs on any newer glibc); its CPython must be the one the box bundles."""
    fitting = [t for t in TARGETS if _glibc_minor(t.glibc) <= _glibc_minor(box.glibc)]
    if not fitting:
        raise BuildError(f"{box.name}: no portable CPython builds for glibc {box.glibc} here")
    found = fitting[-1]
    if box.python.bundled_version != found.series:
        raise BuildError(
            f"{box.name}: the portable CPython for glibc {box.glibc} is {found.series}, "
            f"the catalog bundles {box.python.bundled_version} (python.bundled_version)"
        )
    return found


def _glibc_minor(glibc: str) -> int:
    return int(glibc.split(".")[1])


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
# Python 2.7's modules that setup.py builds (those with a C library of the tree, or glibc's
# libcrypt) and would leave out with a warning only. 2.7 has no lzma and no _uuid; nis is
# not built (its headers would be the build box's).
REQUIRED_MODULES_27 = [
    "ssl",
    "_ssl",
    "hashlib",
    "_hashlib",
    "zlib",
    "bz2",
    "sqlite3",
    "_sqlite3",
    "ctypes",
    "_ctypes",
    "readline",
    "curses",
    "_curses_panel",
    "gdbm",
    "pyexpat",
    "_elementtree",
    "json",
    "_json",
    "uuid",
    "crypt",
    "_multiprocessing",
    "_io",
    "unicodedata",
]


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


def fetch_sources(target: Target, log: Path) -> list[Path]:
    """Every input of a cold build on the host (downloaded once, sha256-pinned)."""
    return [fetch_url(_url(s.path), s.sha256, log) for s in target.sources] + [_fetch_cmake(log)]


def _wrappers(target: Target) -> Path:
    return ZIG_WRAPPERS if target.zig else toolchain.WRAPPERS


def cache_key(target: Target) -> str:
    parts = [s.sha256 for s in target.sources] + [CMAKE_SHA256, toolchain.WHEEL_SHA256]
    parts += [toolchain.ZIG_WHEEL_SHA256] if target.zig else []
    parts += [shared_libraries_key(target)] if target.shared_libraries else []
    recipe = target.recipe.read_text() + LIBRARIES.read_text() + _wrappers(target).read_text()
    return digest("python-portable-v1", target.glibc, target.series, *parts, recipe, "x86_64")[:20]


def shared_libraries_key(target: Target) -> str:
    """The key of the C library set a shared_libraries target unpacks: its sources (no
    CPython), the zig toolchain, the library recipe and wrappers, and the glibc."""
    parts = [s.sha256 for s in [*SOURCES, target.openssl]]
    parts += [CMAKE_SHA256, toolchain.WHEEL_SHA256, toolchain.ZIG_WHEEL_SHA256]
    recipe = LIBRARIES.read_text() + ZIG_WRAPPERS.read_text()
    return digest("portable-libraries-v1", SHARED_LIBRARIES_GLIBC, *parts, recipe, "x86_64")[:20]


def send_toolchain(runner: BoxRunner, box) -> None:
    """Put the compilers for the box's target on the build box (once per box): the ppbt
    toolchain always (its glibc 2.17 runtime runs the checks), zig for older targets."""
    root = toolchain.ensure_toolchain(runner.log)
    gcc = f"{TOOLCHAIN}/bin/{toolchain.TRIPLET}-gcc"
    if not runner.output(f"test -x {gcc} && echo yes || true", "looking for the toolchain"):
        runner.copy_in(root, TOOLCHAIN, "copying the glibc 2.17 toolchain in")
    if target(box).zig and not runner.output(
        f"test -x {ZIG}/zig && echo yes || true", "looking for zig"
    ):
        runner.copy_in(toolchain.ensure_zig(runner.log), ZIG, "copying zig cc in")
        zig_cache.bring(runner)
    if target(box).below_glibc_2_7:
        runner.machine.put_file(BELOW_GLIBC_2_7, BELOW_GLIBC_2_7_ON_BOX)


def compile_env(box, prefix: str = PREFIX) -> dict[str, str]:
    """Environment for compiling sdists on the box against PREFIX for the box's glibc.

    Needs send_toolchain() first. pyzmq (scikit-build-core) takes ZMQ_PREFIX and links the
    libzmq built here; setuptools projects (timelib) take CC/LDSHARED/CFLAGS/LDFLAGS.
    """
    built = target(box)
    t = toolchain.TRIPLET
    cc, cxx = f"{t}-gcc", f"{t}-g++"
    if built.zig:
        # Below glibc 2.7, zig's features.h needs __GLIBC__ before it defines it (see
        # zig_wrappers.sh): else sscanf would need __isoc99_sscanf (GLIBC_2.7).
        fix = " -D__GLIBC__=2" if built.below_glibc_2_7 else ""
        cc, cxx = (f"{ZIG}/zig {tool} -target {t}.{built.glibc}{fix}" for tool in ("cc", "c++"))
    flags = "-O2 -g0 -ffile-prefix-map=/tmp/="  # pip builds under /tmp: keep that path out
    below_2_7 = f" -include {BELOW_GLIBC_2_7_ON_BOX}" if built.below_glibc_2_7 else ""
    return {
        "PATH": f"{TOOLCHAIN}/bin:/usr/sbin:/usr/bin:/sbin:/bin",
        "CC": cc,
        "CXX": cxx,
        "LDSHARED": f"{cc} -pthread -shared",
        "LDCXXSHARED": f"{cxx} -pthread -shared",
        "AR": "ar" if built.zig else f"{t}-ar",
        "CFLAGS": flags + below_2_7,
        "CXXFLAGS": flags,
        "CPPFLAGS": f"-I{prefix}/include",
        # EL7's libstdc++ and libgcc_s are too old for gcc 11's: link them in.
        "LDFLAGS": f"-L{prefix}/lib -Wl,-rpath,{prefix}/lib -static-libstdc++ -static-libgcc",
        "ZMQ_PREFIX": prefix,
        "PYZMQ_NO_BUNDLE": "1",
        "ZIG_GLOBAL_CACHE_DIR": zig_cache.ON_BOX,
        "ZIG_LOCAL_CACHE_DIR": f"{WORK}/zig-cache",
    }


def keep_compiled_runtimes(runner: BoxRunner, box) -> None:
    """After compiling for the box's target: what zig compiled for it once, for the next
    build box (the ppbt toolchain compiles nothing of its own)."""
    if target(box).zig:
        zig_cache.keep(runner)


def run_on_glibc217(runner: BoxRunner, code: str) -> str:
    """Run /opt/salt/bin/python3 -I -c CODE in a root holding only glibc 2.17 and /opt/salt
    (needs send_toolchain()); return its output."""
    return runner.output(
        f"set -e\nP={PREFIX} TC={TOOLCHAIN} W={WORK} CODE={shlex.quote(code)}\n{GLIBC217_ROOT}",
        "running /opt/salt's interpreter in a root that holds only glibc 2.17 and /opt/salt",
    )


def check_stdlib(runner: BoxRunner, built: Target, prefix: str = PREFIX) -> None:
    """Every module a full stdlib has imports (Python 3: cpython.REQUIRED_MODULES)."""
    if built.series != "2.7":
        cpython.check_stdlib(runner, prefix)
        return
    imports = "; ".join(f"import {m}" for m in REQUIRED_MODULES_27)
    runner.run(
        f"{prefix}/bin/{built.python_name} -E -s -c {shlex.quote(imports)}",
        f"checking the portable Python 2.7's stdlib ({', '.join(REQUIRED_MODULES_27[:12])})",
    )


def check(runner: BoxRunner, built: Target) -> None:
    """The stdlib imports, and (EL7's) it runs on a real glibc 2.17 (its ELF files:
    check_abi). An older target's build cannot run there: the ppbt sysroot's glibc lacks
    the compat memcpy@GLIBC_2.2.5 that every real glibc keeps and that a build linked
    against glibc 2.12 (or 2.5) needs."""
    check_stdlib(runner, built)
    if not built.zig:
        runner.note(f"on glibc 2.17: {run_on_glibc217(runner, STDLIB_CODE).strip()}")


def check_abi(tarball: Path, built: Target, log: Path) -> None:
    """Every ELF of the built tree within the target's ABI (builds.abi_ceiling)."""
    with tempfile.TemporaryDirectory(prefix="svh-portable-abi-") as tmp:
        with tarfile.open(tarball) as tar:
            tar.extractall(tmp, filter="tar")
        report = abi_ceiling.scan(Path(tmp), built.glibc, portable=True)
    with open(log, "a") as f:
        f.write(f"\n### portable CPython, ABI ceiling: {report.summary()}\n")
        f.writelines(f"{finding.kind}: {finding.message}\n" for finding in report.findings)
    if report.findings:
        raise BuildError(
            f"the portable CPython breaks glibc {built.glibc}'s ABI: {report.findings[0].message}",
            log,
        )


def _recipe_env(built: Target, glibc: str, series: str) -> str:
    """The variables portable_libraries.sh and the recipes read."""
    wrappers = _wrappers(built)
    return (
        f"WORK={WORK} PREFIX={PREFIX} TOOLCHAIN={ZIG if built.zig else TOOLCHAIN} "
        f"TOOLCHAIN_WRAPPERS={WORK}/dl/{wrappers.name} GLIBC={glibc} "
        f"PYTHON_SERIES={series} WITH_ZMQ={int(built.with_zmq)}"
        f"{f' PATCHELF={TOOLCHAIN}/bin/patchelf' if built.zig else ''}"
        f"{f' ZIG_GLOBAL_CACHE_DIR={zig_cache.ON_BOX}' if built.zig else ''}"
    )


def _shared_libraries(runner: BoxRunner, built: Target) -> Path:
    """The C library set of the shared_libraries targets, from the cache or compiled on the
    box (whose $WORK/dl holds the sources and recipes): a tarball of what they install into
    /opt/salt. PYTHON_SERIES=3: with xz and libuuid, which Python 2.7 leaves out."""
    cached = cache_root() / "portable-libraries" / shared_libraries_key(built) / "libraries.tar"
    if cached.is_file():
        return cached
    env = _recipe_env(built, SHARED_LIBRARIES_GLIBC, "3")
    with progress.step(
        f"building the C libraries of the zig targets for glibc {SHARED_LIBRARIES_GLIBC}"
    ):
        runner.run(
            f"rm -rf {PREFIX} && {env} bash -c 'set -euo pipefail\n"
            f". {WORK}/dl/{LIBRARIES.name}\nbuild_libraries' && "
            f"tar -C {PREFIX} -cf {WORK}/libraries.tar . && "
            f"rm -rf {PREFIX} {WORK}/src {WORK}/tools",
            f"building the C libraries for glibc {SHARED_LIBRARIES_GLIBC}",
            timeout=2 * 3600,
        )
        with filling(cached.parent) as tmp:
            runner.fetch(f"{WORK}/libraries.tar", tmp / cached.name, "caching the C libraries")
        zig_cache.keep(runner)
    return cached


def install(runner: BoxRunner, box, prefix: str = PREFIX) -> str:
    """Put the portable interpreter into PREFIX on the box; return its version. It is
    built in /opt/salt and runs from anywhere (relative rpaths, as a relenv onedir)."""
    built = target(box)
    cached = cache_root() / "python-portable" / cache_key(built) / "python.tar"
    # One interpreter serves several releases (EL7's 3.11 is debian11's too): a build that
    # finds another one compiling it waits for that tarball instead of compiling it again.
    if not cached.is_file():
        progress.note(
            f"{box.name}: portable CPython {built.series} for glibc {built.glibc} not cached: "
            "built here, or by the build already compiling it (this one waits)"
        )
    with state.locked(cached.parent.with_name(f".{cached.parent.name}.lock")):
        _unpack_or_build(runner, box, built, cached, prefix)
    check_stdlib(runner, built, prefix)
    return _version(runner, built, prefix)


def _unpack_or_build(runner: BoxRunner, box, built: Target, cached: Path, prefix: str) -> None:
    if cached.is_file():
        with progress.step(f"{box.name}: portable CPython {built.series} (cached)"):
            runner.run(f"rm -rf {prefix}", f"clearing {prefix}")
            runner.send_tar(cached, prefix, "unpacking the cached portable CPython")
            cpython.relocate(runner, prefix)
    else:
        with progress.step(
            f"{box.name}: building CPython {built.series} and its libraries for glibc "
            f"{built.glibc} (make -j2, ~9 minutes)"
        ):
            _build(runner, box, built, cached)
            cpython.move(runner, prefix)
            cpython.relocate(runner, prefix)


def _version(runner: BoxRunner, built: Target, prefix: str) -> str:
    return runner.output(
        f"{prefix}/bin/{built.python_name} {platform.isolation_flags(built.series)} -c "
        "'import platform; print(platform.python_version())'",
        "asking the portable CPython its version",
    ).strip()


def _build(runner: BoxRunner, box, built: Target, cached: Path) -> None:
    sources = fetch_sources(built, runner.log)
    runner.run(f"rm -rf {WORK} {PREFIX} && mkdir -p {WORK}/dl", "preparing the build")
    send_toolchain(runner, box)
    wrappers = _wrappers(built)
    for src in [*sources, built.recipe, LIBRARIES, wrappers]:
        runner.send_file(src, f"{WORK}/dl/{src.name}", f"copying {src.name} in")
    env = _recipe_env(built, built.glibc, built.series)
    if built.shared_libraries:
        libraries = _shared_libraries(runner, built)
        runner.send_file(libraries, f"{WORK}/dl/libraries.tar", "copying the C libraries in")
        env += f" LIBRARIES_TAR={WORK}/dl/libraries.tar"
    runner.run(
        f"{env} bash {WORK}/dl/{built.recipe.name}",
        "building the portable CPython and its libraries",
        timeout=4 * 3600,
    )
    keep_compiled_runtimes(runner, box)
    check(runner, built)
    runner.run(f"tar -C {PREFIX} -cf {WORK}/python.tar .", "packing /opt/salt")
    with filling(cached.parent) as tmp:
        runner.fetch(f"{WORK}/python.tar", tmp / cached.name, "caching the portable CPython")
        check_abi(tmp / cached.name, built, runner.log)
    runner.run(f"rm -rf {WORK}", "removing the build directory")
