"""The toolchains for targets older than the build box: the glibc 2.17 toolchain that
Salt's own onedir builds use, PyPI's ppbt (gcc 11.2, binutils 2.29, a sysroot holding a real
glibc 2.17 runtime), and PyPI's ziglang, whose `zig cc -target x86_64-linux-gnu.2.12` links
against any older glibc version's symbols (EL6) and refuses newer ones.

    root = ensure_toolchain(log)        # host path, extracted once into the build cache
    root / "bin" / f"{TRIPLET}-gcc"     # the compiler
    sysroot(root) / "lib"               # glibc 2.17: ld-linux-x86-64.so.2, libc.so.6, ...
    zig = ensure_zig(log) / "zig"       # zig cc, zig c++

Each wheel is fetched with pip (PyPI is reachable, its pinned hash checked), unpacked under
<cache>/toolchain/NAME-VERSION/ and never changed afterwards.
"""

from __future__ import annotations

import shutil
import tarfile
import zipfile
from pathlib import Path

from .errors import LoggedError
from .runner import tee
from .sources import cache_root, filling, pip_download_argv, sha256_file

VERSION = "0.1.8"
WHEEL = f"ppbt-{VERSION}-py3-none-manylinux_2_17_x86_64.whl"
WHEEL_SHA256 = "cdc534b53f052ff32812ea7167afd3393068b1dab92c63546b38353c286aac73"
ZIG_VERSION = "0.17.1"
ZIG_WHEEL = (
    f"ziglang-{ZIG_VERSION}-py3-none-manylinux_2_12_x86_64.manylinux2010_x86_64."
    "musllinux_1_1_x86_64.whl"
)
ZIG_WHEEL_SHA256 = "ea6cc5d87b033cf0aedfbc8f9549a908cae6c50ac31f1698188fa48a74524b54"
TRIPLET = "x86_64-linux-gnu"
# The compiler wrappers and stubs every build with the toolchain sources (a shell function).
WRAPPERS = Path(__file__).with_name("toolchain_wrappers.sh")
GLIBC = "2.17"
# glibc's own runtime libraries (2.17's set): what every target's glibc brings along.
GLIBC_RUNTIME = (
    "libc.so.6",
    "libm.so.6",
    "libpthread.so.0",
    "libdl.so.2",
    "librt.so.1",
    "libutil.so.1",
    "libcrypt.so.1",
    "libnsl.so.1",
    "libresolv.so.2",
    "libanl.so.1",
)


def toolchain_dir() -> Path:
    return cache_root() / "toolchain" / f"ppbt-{VERSION}"


def sysroot(root: Path) -> Path:
    return root / TRIPLET / "sysroot"


def _fetch_wheel(
    dest: Path, log: Path, requirement: str, name: str, sha256: str, what: str
) -> Path:
    argv = pip_download_argv("--only-binary", ":all:", "-d", str(dest), requirement)
    with open(log, "a") as f:
        code = tee(argv, f)
    wheel = dest / name
    if code != 0 or not wheel.is_file():
        raise LoggedError(f"cannot fetch {what} (pip download {requirement})", log)
    got = sha256_file(wheel)
    if got != sha256:
        raise LoggedError(f"{name}: sha256 {got} is not the pinned {sha256}", log)
    return wheel


def zig_dir() -> Path:
    return cache_root() / "toolchain" / f"zig-{ZIG_VERSION}"


def ensure_zig(log: Path) -> Path:
    """The extracted ziglang package (zig, lib/), fetched and unpacked once."""
    final = zig_dir()
    if (final / "zig").is_file():
        return final
    log.parent.mkdir(parents=True, exist_ok=True)
    with filling(final) as tmp:
        wheel = _fetch_wheel(
            tmp / "wheel", log, f"ziglang=={ZIG_VERSION}", ZIG_WHEEL, ZIG_WHEEL_SHA256, "zig cc"
        )
        with zipfile.ZipFile(wheel) as zf:
            zf.extractall(tmp / "x")
        for item in (tmp / "x" / "ziglang").iterdir():
            item.rename(tmp / item.name)
        (tmp / "zig").chmod(0o755)
        shutil.rmtree(tmp / "wheel")
        shutil.rmtree(tmp / "x")
    return final


def ensure_toolchain(log: Path) -> Path:
    """The extracted toolchain (its bin/, TRIPLET/sysroot/), fetched and unpacked once."""
    final = toolchain_dir()
    if (final / "bin" / f"{TRIPLET}-gcc").is_file():
        return final
    log.parent.mkdir(parents=True, exist_ok=True)
    with filling(final) as tmp:
        wheel = _fetch_wheel(
            tmp / "wheel",
            log,
            f"ppbt=={VERSION}",
            WHEEL,
            WHEEL_SHA256,
            f"the glibc {GLIBC} toolchain",
        )
        with zipfile.ZipFile(wheel) as zf:
            zf.extract(f"ppbt/_toolchain/{TRIPLET}.tar.xz", tmp / "wheel")
        with tarfile.open(tmp / "wheel" / "ppbt" / "_toolchain" / f"{TRIPLET}.tar.xz") as tf:
            tf.extractall(tmp / "x", filter="tar")
        # The archive holds one directory, TRIPLET/, with bin/ and TRIPLET/sysroot inside.
        for item in (tmp / "x" / TRIPLET).iterdir():
            item.rename(tmp / item.name)
        (tmp / "x" / TRIPLET).rmdir()
        (tmp / "x").rmdir()
        shutil.rmtree(tmp / "wheel")
    return final
