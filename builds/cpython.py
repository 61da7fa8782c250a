"""A CPython 3.11 of our own in /opt/salt, for boxes whose system Python cannot run Salt.

Built on the box itself (its glibc, OpenSSL, ...) from the upstream tarball that Debian's
bookworm python3.11 source package carries, fetched from the Debian mirror. Prefix
/opt/salt, shared libpython found through a relative rpath ($ORIGIN/../lib), nothing
exported to the rest of the system. The installed tree is cached on the host as a tarball
keyed by the source, this recipe and the box's release, so a warm build only unpacks it.
"""

from __future__ import annotations

import shlex

from harness import progress
from harness.aptsources import source_mirror

from .inputs import cache_root, fetch_url, filling
from .locks import digest
from .remote import BoxRunner

VERSION = "3.11.2"
SOURCE_PATH = "pool/main/p/python3.11/python3.11_3.11.2.orig.tar.gz"
SOURCE_SHA256 = "2411c74bda5bbcfcddaf4531f66d1adc73f247f529aee981b029513aefdbf849"
PREFIX = "/opt/salt"
WORK = "/var/tmp/svh-cpython"
# Modules a full stdlib must have; a missing -dev package makes configure skip one silently.
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

# No PGO/LTO: the build boxes have two cores. The rpath goes in LDFLAGS_NODIST so the
# interpreter gets it but sysconfig does not hand it to third-party extensions.
RECIPE = (
    r"""
cd {work}
rm -rf src && mkdir src && tar -xzf python.orig.tar.gz -C src --strip-components=1
cd src
# setup.py compiles some modules from absolute paths: __FILE__ must not keep them.
CFLAGS_NODIST="-ffile-prefix-map=$(pwd)=." ./configure --prefix={prefix} --enable-shared"""
    r""" --with-ensurepip=no --without-static-libpython --disable-test-modules \
    > ../configure.log 2>&1 || {{ tail -40 ../configure.log; exit 1; }}
# The test suite is not part of a runtime; -O/-OO bytecode is never used by Salt.
sed -i 's/\$(PYTHON_FOR_BUILD) -Wi -OO\? \$(DESTDIR)/: $(DESTDIR)/' Makefile
[ "$(grep -c ': $(DESTDIR)$(LIBDEST)/compileall.py' Makefile)" = 4 ]
make -j2 LDFLAGS_NODIST='-Wl,-rpath,\$$ORIGIN/../lib'
make install > ../install.log 2>&1 || {{ tail -40 ../install.log; exit 1; }}
lib={prefix}/lib/python3.11
# Debug info and sysconfig's record of the build carry the build directory.
find {prefix} -type f \( -name '*.so' -o -name '*.so.*' -o -name 'python3.11' \)"""
    r""" -exec strip --strip-debug {{}} +
build_dir=$(pwd)
grep -rlI -- "$build_dir" {prefix} | while read -r f; do sed -i "s|$build_dir|{prefix}|g" "$f"; done
{prefix}/bin/python3.11 -m compileall -q -f -d $lib $lib/_sysconfigdata_*.py >/dev/null
left=$(grep -rl -- "$build_dir" {prefix} || true)
[ -z "$left" ] || {{ echo "build path left in: $left"; exit 1; }}
"""
)


def cache_key(box) -> str:
    return digest("cpython-v2", SOURCE_SHA256, RECIPE, box.codename, "x86_64")[:20]


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


def install(runner: BoxRunner, box, prefix: str = PREFIX) -> str:
    """Put the bundled interpreter into PREFIX on the box; return its version."""
    cached = cache_root() / "python" / cache_key(box)
    if (cached / "python.tar").is_file():
        with progress.step(f"{box.name}: bundled CPython {VERSION} (cached)"):
            runner.send_tar(cached / "python.tar", prefix, "unpacking the cached CPython")
            relocate(runner, prefix)
    else:
        with progress.step(
            f"{box.name}: building CPython {VERSION} from Debian's source (make -j2, minutes)"
        ):
            source = fetch_url(source_url(), SOURCE_SHA256, runner.log)
            runner.run(f"rm -rf {WORK} {PREFIX} && mkdir -p {WORK}", "preparing the CPython build")
            runner.send_file(source, f"{WORK}/python.orig.tar.gz", "copying the CPython source in")
            runner.run(
                RECIPE.format(work=WORK, prefix=PREFIX), f"building CPython {VERSION}", timeout=7200
            )
            check_stdlib(runner)
            runner.run(
                f"tar -C {PREFIX} -cf {WORK}/python.tar . && rm -rf {WORK}/src",
                "packing the built CPython",
            )
            with filling(cached) as tmp:
                runner.fetch(
                    f"{WORK}/python.tar",
                    tmp / "python.tar",
                    "caching the built CPython on the host",
                )
            runner.run(f"rm -rf {WORK}", "removing the CPython build directory")
            move(runner, prefix)
            relocate(runner, prefix)
    check_stdlib(runner, prefix)
    return runner.output(
        f"{prefix}/bin/python3 -I -c 'import platform; print(platform.python_version())'",
        "asking the bundled CPython its version",
    ).strip()
