"""The glibc 2.17 toolchain that Salt's own onedir builds use: PyPI's ppbt (gcc 11.2,
binutils 2.29, a sysroot holding a real glibc 2.17 runtime).

    root = ensure_toolchain(log)        # host path, extracted once into the build cache
    root / "bin" / f"{TRIPLET}-gcc"     # the compiler
    sysroot(root) / "lib"               # glibc 2.17: ld-linux-x86-64.so.2, libc.so.6, ...

The wheel is fetched with pip (PyPI is reachable, its pinned hash checked), unpacked under
<cache>/toolchain/ppbt-VERSION/ and never changed afterwards.
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


def _fetch_wheel(dest: Path, log: Path) -> Path:
    argv = pip_download_argv("--only-binary", ":all:", "-d", str(dest), f"ppbt=={VERSION}")
    with open(log, "a") as f:
        code = tee(argv, f)
    wheel = dest / WHEEL
    if code != 0 or not wheel.is_file():
        raise LoggedError(
            f"cannot fetch the glibc {GLIBC} toolchain (pip download ppbt=={VERSION})", log
        )
    got = sha256_file(wheel)
    if got != WHEEL_SHA256:
        raise LoggedError(f"{WHEEL}: sha256 {got} is not the pinned {WHEEL_SHA256}", log)
    return wheel


def ensure_toolchain(log: Path) -> Path:
    """The extracted toolchain (its bin/, TRIPLET/sysroot/), fetched and unpacked once."""
    final = toolchain_dir()
    if (final / "bin" / f"{TRIPLET}-gcc").is_file():
        return final
    log.parent.mkdir(parents=True, exist_ok=True)
    with filling(final) as tmp:
        wheel = _fetch_wheel(tmp / "wheel", log)
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
