"""The payload's binary interface on every box: each ELF under its prefix (ours: /opt/salt)
within the box's
glibc (the catalog's ABI ceiling), a portable payload taking only the C runtime from the
system, every shared object loading and every bundled module importing there.

On centos7-abi the box itself runs glibc 2.17, EL7's: what loads and imports there loads
and imports on CentOS 7.
"""

from __future__ import annotations

import shlex

import pytest
from checks import (
    LIST_LIBRARIES,
    expect_none,
    expect_silent,
    fail,
    isolated,
    layout,
    prefix,
    sh,
)

from builds import abi_ceiling
from harness import catalog

# What Salt and the stdlib need compiled code for: each import loads its extension modules.
MODULES = [
    "ssl",
    "hashlib",
    "sqlite3",
    "ctypes",
    "lzma",
    "bz2",
    "zlib",
    "readline",
    "zmq",
    "cryptography.hazmat.bindings._rust",
    "Cryptodome.Cipher.AES",
    "Crypto.Cipher.AES",
    "msgpack",
    "yaml",
    "psutil",
    "salt.version",
    "salt.utils.process",
]
# The distribution a module of MODULES comes from, where it is not the stdlib: a payload that
# does not bundle it (Salt 3005.5 for EL6 has no cryptography) skips that import.
DISTRIBUTION = {
    "zmq": "pyzmq",
    "cryptography": "cryptography",
    "Cryptodome": "pycryptodomex",
    "Crypto": "pycrypto",
    "msgpack": "msgpack",
    "yaml": "pyyaml",
    "psutil": "psutil",
    "salt": "salt",
}
# Stdlib modules of MODULES that came later than Python 2.7 (EL5's /opt/salt), by version.
STDLIB_SINCE = {"lzma": "3.3"}


@pytest.mark.smoke
def test_every_elf_stays_within_the_abi_ceiling(installed, opt_salt):
    # The ceiling of the release the packages are for: centos7-rpm, a Debian 12 root,
    # runs centos7's RPMs, which must stay within EL7's glibc 2.17.
    spec = catalog.load_box(installed.spec.packages_box)
    report = abi_ceiling.scan(opt_salt, spec.glibc, spec.python.portable, prefix(installed))
    if report.files == 0:
        root = prefix(installed)
        fail(installed, f"ELF files under {root}", "none", f"find {root} -type f")
    expect_none(
        installed,
        f"ELF beyond {spec.name}'s ABI ceiling (glibc {spec.glibc}"
        + (", C runtime only" if spec.python.portable else "")
        + ")",
        f"python -m builds.abi_ceiling DIR --box {spec.name}  (DIR: a copy of {prefix(installed)})",
        [f.message for f in report.findings],
    )


def test_every_shared_object_loads(installed):
    """dlopen of every .so under the prefix by the payload's interpreter, on this box's libc."""
    code = (
        "import ctypes, os\n"
        "bad = []\n"
        f"for root, _, files in os.walk({prefix(installed)!r}):\n"
        "    for f in files:\n"
        "        p = os.path.join(root, f)\n"
        "        if '.so' not in f or os.path.islink(p): continue\n"
        "        if open(p, 'rb').read(4) == b'\\x7fELF':\n"
        "            try: ctypes.CDLL(p)\n"
        "            except OSError as e: bad.append('%s: %s' % (p, e))\n"
        "print('\\n'.join(bad))\n"
    )
    command = f"{isolated(installed)} -c {shlex.quote(code)}"
    expect_silent(installed, "shared object that does not load", command)


def test_every_executable_finds_its_libraries(installed):
    command = (
        f'for f in {prefix(installed)}/bin/*; do [ -L "$f" ] && continue; '
        'head -c 4 "$f" | grep -q ELF || continue; '
        f'{LIST_LIBRARIES} "$f" | grep \'not found\' | sed "s|^|$f: |"; done; true'
    )
    expect_silent(installed, "library not found", command)


def version_tuple(version: str) -> tuple[int, ...]:
    return tuple(int(part) for part in version.split("."))


@pytest.mark.parametrize("module", MODULES)
def test_bundled_module_imports(installed, packages, module):
    distribution = DISTRIBUTION.get(module.split(".")[0])
    if distribution is not None and distribution not in packages.bundled:
        pytest.skip(f"Salt {packages.salt_version} of this payload bundles no {distribution}")
    since, python = STDLIB_SINCE.get(module), layout(installed).python_version
    if since and version_tuple(python) < version_tuple(since):
        pytest.skip(f"Python {python}'s stdlib has no {module} (since {since})")
    command = f"{isolated(installed)} -c {shlex.quote(f'import {module}')}"
    result = sh(installed, command, expect_ok=False)
    if result.exit_status != 0:
        fail(
            installed,
            f"import {module} in {prefix(installed)}'s Python",
            result.stderr.strip()[-600:],
            command,
        )
