"""Isolation: the payload (ours: /opt/salt) sees only itself, the distribution sees only
itself, and nothing of the packages leaks into the rest of the system."""

from __future__ import annotations

import json
import re
import shlex
from typing import Any

import pytest
from checks import (
    LIST_LIBRARIES,
    expect_none,
    expect_silent,
    expect_unchanged,
    fail,
    import_each,
    interpreter,
    isolated,
    layout,
    lines,
    pkgdb,
    prefix,
    sh,
    supported,
    tool_path,
)

from builds import abi_ceiling
from builds.cpython import REQUIRED_MODULES
from builds.payload import AS_PUBLISHED
from builds.portable import REQUIRED_MODULES_27

# A build root, staging dir or fetch cache left in the payload (classic failure 1): the build
# module's scratch dirs on the box (/var/tmp/svh-*, /var/tmp/salt-rpmbuild), the harness's
# caches, and the markers dpkg, rpmbuild and pip leave. (Salt's own sources mention
# /var/tmp/... and /home/user/... in examples, so those prefixes alone prove nothing.)
BUILD_PATHS = (
    r"/var/tmp/svh-|/var/tmp/salt-rpmbuild|salt-venv-harness|/root/\.cache/|BUILDROOT/|"
    r"/rpmbuild/BUILD|/debian/tmp/"
)
# pip's build directories: in a file as its published wheel has it (an old manylinux wheel
# keeps its builder's), they are upstream's; anywhere else, ours.
PIP_BUILD_PATHS = r"/tmp/pip-(build|req|install|wheel)-"
# Libraries an ELF under /opt/salt may take from the system: the C runtime and the
# distribution's base libraries, never a distro copy of something /opt/salt bundles.
SYSTEM_LIBS = re.compile(
    r"(ld-linux-x86-64|linux-vdso|libc|libm|libdl|libpthread|librt|libutil|libresolv|libnsl|libcrypt|"
    r"libgcc_s|libstdc\+\+|libz|libbz2|liblzma|libffi|libssl|libcrypto|libsqlite3|libreadline|"
    r"libncursesw|libncurses|libtinfo|libpanelw|libuuid|libexpat|libmpdec|libgdbm|libgdbm_compat|"
    r"libdb-5\.3|libtirpc|libgssapi_krb5|libkrb5|libk5crypto|libcom_err|libkrb5support|libkeyutils|"
    r"libzstd|libsystemd|libcap|libgcrypt|liblz4|libgpg-error|libpython3\.\d+)\.so(\.[\d.]+)?"
)
# A complete stdlib: every module of sys.stdlib_module_names imports in a bundled CPython
# (salt#63718: cmath was missing from Salt's own), except those below, with the reason.
NOT_BUILT = {
    **dict.fromkeys(
        ("msvcrt", "nt", "winreg", "winsound", "_winapi", "_overlapped", "_msi", "msilib"),
        "Windows only",
    ),
    "_scproxy": "macOS only",
    **dict.fromkeys(
        ("_tkinter", "tkinter", "turtle", "turtledemo", "idlelib"),
        "no Tk on a server: built without it, as Salt's onedir is",
    ),
    "antigravity": "importing it opens a web browser",
    # Known gap: CPython links _dbm against gdbm's compat library only when configure finds
    # it; neither bundled build does yet, and dbm opens its files with dbm.gnu or dbm.dumb.
    "_dbm": "dbm.ndbm is not built by the bundled CPythons (dbm.gnu and dbm.dumb are)",
}
# Interpreters before 3.10 have no canonical list: what the build requires of them.
# Written for Python 2.7 as well (EL5's /opt/salt).
STDLIB_SWEEP = """\
import importlib, json, sys

class Discard(object):  # `this` prints the Zen of Python
    def write(self, text):
        pass

    def flush(self):
        pass

names = sorted(getattr(sys, "stdlib_module_names", {required!r}))
failed = {{}}
for name in names:
    if name in {not_built!r}:
        continue
    shown, sys.stdout = sys.stdout, Discard()
    try:
        importlib.import_module(name)
    except Exception as e:
        failed[name] = "%s: %s" % (type(e).__name__, e)
    finally:
        sys.stdout = shown
print(json.dumps({{"checked": len(names), "failed": failed}}))
"""


def required_modules(machine) -> list[str]:
    """What the build requires of the bundled interpreter's stdlib."""
    series = layout(machine).python_version
    return REQUIRED_MODULES_27 if series.startswith("2.") else REQUIRED_MODULES


# The prefix of the interpreter's own stdlib (a venv's base); 2.7 has no venv: its prefix.
BASE_PREFIX = 'getattr(sys, "base_prefix", sys.prefix)'


def python_json(machine, code: str, python: str = "", env: str = "") -> tuple[Any, str]:
    """What `code` prints as JSON, run by `python` (default: the payload's)."""
    command = f"{env}{python or interpreter(machine)} -c {shlex.quote(code)}".strip()
    return json.loads(sh(machine, command).stdout), command


def foreign_entries(machine, sys_path: list[str], base_prefix: str) -> list[str]:
    """sys.path entries outside the payload and outside the interpreter's own stdlib."""
    major_minor = re.search(r"python(\d\.\d+)", " ".join(sys_path))
    stdlib = set()
    if major_minor:
        v = major_minor.group(1)
        stdlib = {
            f"{base_prefix}/lib/python{v}",
            f"{base_prefix}/lib/python{v}/lib-dynload",
            f"{base_prefix}/lib/python{v.replace('.', '')}.zip",
        }
    inside = f"{prefix(machine)}/"
    return [p for p in sys_path if p and not p.startswith(inside) and p not in stdlib]


def salt_call_sys_path(machine, env: str = "") -> tuple[list[str], str]:
    command = f"{env}{tool_path(machine, 'salt-call')} --local --out=json grains.get pythonpath"
    return json.loads(sh(machine, command).stdout)["local"], command


# ---- the conflicting libraries, both ways ---------------------------------------------


# Where the payload's Python finds a module: {file, dist, version}; or, when nothing imports,
# the distributions in the payload that claim its name (none: the payload has none).
OWN_COPY = """\
import importlib, json
try:
    import importlib.metadata as m
except ImportError:  # Python 2.7 (EL5): pip's pkg_resources reads the same metadata
    m = None
    from pip._vendor import pkg_resources

def distributions():  # (name, version, top_level.txt, the first part of each file's path)
    if m is not None:
        for d in m.distributions():
            files = [f.parts[0] for f in d.files or [] if f.parts]
            yield d.metadata["Name"], d.version, d.read_text("top_level.txt"), files
        return
    for d in pkg_resources.working_set:
        record = d.get_metadata("RECORD") if d.has_metadata("RECORD") else ""
        top_level = d.get_metadata("top_level.txt") if d.has_metadata("top_level.txt") else None
        files = [line.split(",")[0].split("/")[0] for line in record.splitlines() if line]
        yield d.project_name, d.version, top_level, files

def claims(name):  # m.packages_distributions()[name], which Python 3.9 and 2.7 lack
    if m is not None and hasattr(m, "packages_distributions"):
        return m.packages_distributions().get(name, [])
    found = []
    for dist, _, top_level, files in distributions():
        tops = (top_level or "").split() or [f.split(".")[0] for f in files]
        if name in tops and dist not in found:
            found.append(dist)
    return found

def version(dist):
    return dict((name, v) for name, v, _, _ in distributions()).get(dist)

claimed = claims({top!r})
try:
    module = importlib.import_module({module!r})
except ImportError:
    print(json.dumps({{"claimed": claimed}}))
else:
    dist = claimed[0] if claimed else None  # none: a module outside any distribution
    print(json.dumps({{"file": module.__file__, "dist": dist, "version": version(dist)}}))
"""


@pytest.mark.smoke
def test_opt_salt_imports_its_own_copy_at_the_locked_version(installed, packages, conflict):
    """Ours, at the locked version; or, for a library Salt does not bundle (catalog
    `bundled = false`: EL7's PyCrypto, where Salt took pycryptodomex), nothing: never the
    distribution's copy."""
    module, top, root = conflict.module, conflict.module.split(".")[0], prefix(installed)
    found, command = python_json(installed, OWN_COPY.format(module=module, top=top))
    if not conflict.bundled:
        unwanted = found.get("file") or ", ".join(found["claimed"])
        if unwanted:
            expected = f"no {module} for {root} (Salt does not bundle it)"
            fail(installed, expected, unwanted, command)
        return
    if "claimed" in found:  # nothing imported
        claimed = ", ".join(found["claimed"]) or "no distribution of it"
        fail(installed, f"{module} imported from {root}", f"ImportError ({claimed})", command)
    where, dist, version = found["file"], found["dist"], found["version"]
    if not where.startswith(f"{root}/"):
        fail(installed, f"{module} imported from {root}", where, command)
    if dist is None:
        fail(installed, f"{module} from a locked distribution", f"{where}, of none", command)
    locked = packages.bundled.get(re.sub(r"[-_.]+", "-", dist).lower())
    if version != locked:
        fail(installed, f"{dist} at the locked version {locked}", version, command)


@pytest.mark.smoke
def test_system_python_imports_the_distro_copy(installed, conflict):
    python = installed.spec.python.path
    command = (
        f"{python} -c {shlex.quote(f'import {conflict.module}; print({conflict.module}.__file__)')}"
    )
    where = sh(installed, command).stdout.strip()
    owner = sh(installed, supported(pkgdb(installed).owner, where)).stdout.strip()
    if owner != conflict.package:
        fail(
            installed,
            f"{conflict.module} from the distro's {conflict.package}",
            f"{where} (owned by {owner or 'no package'})",
            command,
        )


# ---- sys.path -------------------------------------------------------------------------


def test_opt_salt_python_sees_only_opt_salt_and_its_stdlib(installed):
    (sys_path, base_prefix), command = python_json(
        installed, f"import sys, json; print(json.dumps([sys.path, {BASE_PREFIX}]))"
    )
    expect_none(
        installed,
        f"sys.path entry outside {prefix(installed)} and the interpreter's stdlib",
        command,
        foreign_entries(installed, sys_path, base_prefix),
    )


def test_venv_does_not_include_system_site_packages(installed):
    command = f"cat {prefix(installed)}/pyvenv.cfg 2>/dev/null || true"
    if re.search(r"include-system-site-packages\s*=\s*true", sh(installed, command).stdout):
        fail(installed, "include-system-site-packages = false", "true", command)


def test_wrappers_keep_sys_path_inside_opt_salt(installed):
    base_prefix = python_json(installed, f"import sys, json; print(json.dumps({BASE_PREFIX}))")[0]
    sys_path, command = salt_call_sys_path(installed)
    expect_none(
        installed,
        f"sys.path entry of salt-call outside {prefix(installed)}",
        command,
        foreign_entries(installed, sys_path, base_prefix),
    )


def test_wrappers_resist_a_hostile_python_environment(installed):
    base_prefix, version = python_json(
        installed,
        f"import sys, json; print(json.dumps([{BASE_PREFIX}, '%d.%d' % sys.version_info[:2]]))",
    )[0]
    # A user site dir with a fake tornado, and the distro's dirs on PYTHONPATH/PYTHONHOME.
    fake = f"/root/.local/lib/python{version}/site-packages/tornado"
    sh(installed, f"mkdir -p {fake} && echo 'version = \"0.0-fake\"' > {fake}/__init__.py")
    try:
        env = (
            "PYTHONPATH=/usr/lib/python3/dist-packages PYTHONHOME=/usr PYTHONUSERBASE=/root/.local "
        )
        sys_path, command = salt_call_sys_path(installed, env)
        expect_none(
            installed,
            f"sys.path entry of salt-call outside {prefix(installed)} under a hostile environment",
            command,
            foreign_entries(installed, sys_path, base_prefix),
        )
    finally:
        sh(installed, "rm -rf /root/.local")


# ---- the payload ----------------------------------------------------------------------


def test_no_build_root_paths_in_the_payload(installed):
    root = prefix(installed)
    command = f"grep -r -a -l -E {shlex.quote(BUILD_PATHS)} {root} || true"
    expect_silent(installed, f"file under {root} naming a build root or cache path", command)
    installed.put_file(AS_PUBLISHED, "/var/tmp/as_published.py")
    command = (
        f"grep -r -a -l -E {shlex.quote(PIP_BUILD_PATHS)} {root} | "
        f"{isolated(installed)} /var/tmp/as_published.py"
    )
    expect_silent(
        installed,
        f"file under {root}, not as its wheel was published, naming pip's build directory",
        command,
    )


def test_every_shebang_points_inside_opt_salt(installed):
    root = prefix(installed)
    command = (
        f'for f in {root}/bin/* {root}/*; do [ -f "$f" ] && head -c 2 "$f" | grep -q \'#!\' '
        '&& echo "$f $(head -n 1 "$f" | cut -c3-)"; done; true'
    )
    bad = [
        line
        for line in lines(installed, command)
        if not line.split(" ", 1)[1].strip().startswith(f"{root}/bin/")
        and not line.split(" ", 1)[1].strip().startswith("/bin/sh")
    ]
    expect_none(installed, f"shebang pointing outside {root}", command, bad)
    trick = f"grep -l \"^'''exec'\" {root}/bin/* || true"
    expect_none(
        installed, "script using pip's '''exec' shebang trick", trick, lines(installed, trick)
    )


def test_no_absolute_pth_or_egg_link_outside_opt_salt(installed):
    root = prefix(installed)
    command = (
        f"find {root} \\( -name '*.pth' -o -name '*.egg-link' \\) -exec grep -H '^/' {{}} + "
        f"| grep -v ':{root}/' || true"
    )
    expect_silent(installed, f".pth/.egg-link entry pointing outside {root}", command)


def test_every_elf_resolves_its_libraries_inside_opt_salt_or_the_system_allow_list(installed):
    root = prefix(installed)
    command = (
        f"find {root} -type f \\( -name '*.so' -o -name '*.so.*' -o -perm -u+x \\) "
        '-exec sh -c \'head -c 4 "$1" | grep -q ELF && echo "== $1" && '
        f'{LIST_LIBRARIES} "$1"\' _ {{}} \\; 2>&1'
    )
    bundled = set(lines(installed, f"find {root} -name '*.so*' | sed 's|.*/||'"))
    bad, current = [], None
    for line in lines(installed, command):
        if line.startswith("== "):
            current = line[3:]
            continue
        soname, _, target = line.strip().partition(" => ")
        target = target.split(" (")[0].strip()
        if "not found" in target:
            bad.append(f"{current}: {soname} not found")
        elif target.startswith(f"{root}/") or not target or soname in ("statically", "not"):
            continue
        elif soname in bundled:
            bad.append(f"{current}: {soname} from the distro ({target}) though {root} bundles it")
        elif not SYSTEM_LIBS.fullmatch(soname):
            bad.append(f"{current}: {soname} from {target} (not in the system allow-list)")
    expect_none(installed, f"library resolved outside {root} and the allow-list", command, bad)


def test_elf_rpaths_stay_inside_opt_salt(installed, opt_salt):
    root = prefix(installed)
    inside = re.compile(rf"(\$ORIGIN|{re.escape(root)})(/|$)")
    outside = []
    for path in abi_ceiling.iter_elf_files(opt_salt):
        rel = path.relative_to(opt_salt).as_posix()
        rpath = abi_ceiling.read_elf(path, rel).rpath
        outside += [f"{root}/{rel}: {p}" for p in rpath if not inside.match(p)]
    command = "readelf -d FILE | grep -E 'R(UN)?PATH'  (each file named)"
    expect_none(installed, f"RPATH/RUNPATH outside {root} and $ORIGIN", command, outside)


# ---- the rest of the system -----------------------------------------------------------


def test_nothing_is_exported_to_the_system(installed):
    root = prefix(installed)
    command = (
        f"grep -rl {root} /etc/ld.so.conf /etc/ld.so.conf.d /etc/profile /etc/profile.d "
        f"/etc/environment 2>/dev/null; ldconfig -p | grep {root}; true"
    )
    expect_silent(
        installed, f"system-wide export of {root} (ld.so.conf.d, profile.d, environment)", command
    )


def test_the_distribution_python_is_unchanged(installed):
    spec = installed.spec
    if spec.python.version is None:
        pytest.skip(f"{spec.name} has no distribution Python")
    expect_unchanged(installed, "the distribution's Python", spec.python.packages)


# A program of the distribution: a tornado web server and client, and AES from the crypto
# library the distribution ships (PyCrypto's Crypto on EL, Cryptodome on Debian). Written
# for both Python 2.7 and 3, and for tornado 2.2 (EL6: callbacks) to 6 (coroutines only).
DISTRO_PROGRAM = """\
import socket
import tornado.httpclient, tornado.httpserver, tornado.ioloop, tornado.netutil, tornado.web
from {crypto}.Cipher import AES
key, iv = b'k' * 16, b'i' * 16
data = AES.new(key, AES.MODE_CBC, iv).encrypt(b'salt' * 4)
assert AES.new(key, AES.MODE_CBC, iv).decrypt(data) == b'salt' * 4
class Hello(tornado.web.RequestHandler):
    def get(self): self.write('hello from ' + tornado.version)
def serve():
    [sock] = tornado.netutil.bind_sockets(0, '127.0.0.1', family=socket.AF_INET)
    server = tornado.httpserver.HTTPServer(tornado.web.Application([('/', Hello)]))
    server.add_sockets([sock])
    return 'http://127.0.0.1:%d/' % sock.getsockname()[1]
if tornado.version_info < (3,):
    loop, replies = tornado.ioloop.IOLoop.instance(), []
    def got(reply):
        replies.append(reply.body.decode())
        loop.stop()
    tornado.httpclient.AsyncHTTPClient().fetch(serve(), got)
    loop.start()
    print(replies[0])
else:
    import tornado.gen
    @tornado.gen.coroutine
    def main():
        reply = yield tornado.httpclient.AsyncHTTPClient().fetch(serve())
        print(reply.body.decode())
    tornado.ioloop.IOLoop.current().run_sync(main)
"""


@pytest.mark.smoke
def test_distro_programs_using_the_conflicting_libraries_still_work(installed):
    python = installed.spec.python.path
    modules = {c.module for c in installed.spec.conflicts}
    crypto = sorted(modules & {"Crypto", "Cryptodome"})
    if not python or "tornado" not in modules or not crypto:
        pytest.skip(
            f"{installed.spec.name}: the distro program needs a system Python with tornado "
            "and Crypto or Cryptodome from the distribution"
        )
    command = f"{python} -c {shlex.quote(DISTRO_PROGRAM.format(crypto=crypto[0]))}"
    out = sh(installed, command).stdout.strip()
    tornado = next(c for c in installed.spec.conflicts if c.module == "tornado")
    if out.removeprefix("hello from ") != short_version(tornado.version):
        fail(installed, f"the distro's tornado {tornado.version} serving a request", out, command)


def short_version(version: str) -> str:
    """'6.2.0' -> '6.2', as tornado.version spells it."""
    return re.sub(r"(\.0)+$", "", version)


# ---- a bundled interpreter ------------------------------------------------------------


def test_bundled_interpreter_has_a_complete_stdlib(installed, packages):
    if not packages.layout.bundled_interpreter:
        pytest.skip(
            f"{installed.spec.name}'s packages use the system Python; nothing bundled to check"
        )
    required = required_modules(installed)
    sweep = STDLIB_SWEEP.format(required=required, not_built=sorted(NOT_BUILT))
    command = f"{isolated(installed)} -B -c {shlex.quote(sweep)}"
    swept = json.loads(sh(installed, command).stdout)
    if swept["checked"] < len(required):
        fail(installed, "the stdlib's module list", f"{swept['checked']} names", command)
    failed = [f"{name}: {error}" for name, error in swept["failed"].items()]
    each = import_each(installed, swept["failed"])
    expect_none(installed, "stdlib module that does not import", each, failed)


def test_bundled_interpreter_loads_libpython_from_opt_salt(installed, packages):
    if not packages.layout.bundled_interpreter:
        pytest.skip(
            f"{installed.spec.name}'s packages use the system Python; nothing bundled to check"
        )
    root = prefix(installed)
    command = f"{LIST_LIBRARIES} $(readlink -f {interpreter(installed)}) | grep libpython"
    found = sh(installed, command).stdout.strip()
    if f"=> {root}/" not in found:
        fail(installed, f"libpython resolved from {root}/lib", found, command)
    base, command = python_json(installed, f"import sys, json; print(json.dumps({BASE_PREFIX}))")
    if not base.startswith(root):
        fail(installed, f"sys.base_prefix inside {root}", base, command)
