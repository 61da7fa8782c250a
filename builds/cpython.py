"""The CPython 3.11 a package bundles where the release's Python cannot run Salt, and
how a built interpreter tree is handled: its source (the upstream tarball Debian's bookworm
python3.11 source package carries, from the Debian mirror), the stdlib it must have, and
moving it from /opt/salt, where it is built, to another prefix. builds/portable.py builds
it, with its C libraries, once for every release it runs on.
"""

from __future__ import annotations

import shlex

from harness.aptsources import source_mirror

from .remote import BoxRunner

VERSION = "3.11.2"
SOURCE_PATH = "pool/main/p/python3.11/python3.11_3.11.2.orig.tar.gz"
SOURCE_SHA256 = "2411c74bda5bbcfcddaf4531f66d1adc73f247f529aee981b029513aefdbf849"
PREFIX = "/opt/salt"
# Modules a full stdlib must have; a missing C library makes configure skip one silently.
REQUIRED_MODULES = [
    "ssl",
    "hashlib",
    "sqlite3",
    "ctypes",
    "zlib",
    "bz2",
    "lzma",
    "readline",
    "curses",
    "uuid",
    "decimal",
    "_ctypes",
    "_decimal",
    "pyexpat",
    "_gdbm",
    "_bz2",
    "_lzma",
    "_uuid",
    "_sqlite3",
    "_ssl",
    "_hashlib",
]


def source_url() -> str:
    return f"{source_mirror('the CPython source')}/{SOURCE_PATH}"


def check_stdlib(runner: BoxRunner, prefix: str = PREFIX):
    imports = "; ".join(f"import {m}" for m in REQUIRED_MODULES)
    runner.run(
        f"{prefix}/bin/python3 -I -c {shlex.quote(imports)}",
        f"checking the bundled CPython's stdlib ({', '.join(REQUIRED_MODULES[:11])})",
    )


def move(runner: BoxRunner, prefix: str) -> None:
    """Move the interpreter just built in /opt/salt to PREFIX (see relocate)."""
    if prefix != PREFIX:
        runner.run(
            f"rm -rf {prefix} && mkdir -p {prefix} && rmdir {prefix} && mv {PREFIX} {prefix}",
            f"moving the interpreter to {prefix}",
        )


def relocate(runner: BoxRunner, prefix: str) -> None:
    """Make the interpreter built in /opt/salt, now in PREFIX, name PREFIX. Its ELF files
    find their libraries through relative rpaths and it finds its stdlib from where it runs,
    as a relenv onedir does; its text files (the scripts' shebangs, sysconfig's data and
    Makefile, pkg-config and python3.X-config) name the prefix it was built for."""
    if prefix == PREFIX:
        return
    runner.run(
        f"grep -rlI -e {PREFIX} {prefix} | xargs -r sed -i -E "
        f"'s#{PREFIX}([^A-Za-z0-9_.-]|$)#{prefix}\\1#g' && "
        f"! grep -rIl -E '{PREFIX}([^A-Za-z0-9_.-]|$)' {prefix}",
        f"naming {prefix} in the interpreter's text files",
    )
