"""EL7's system Python and the EPEL libraries that conflict with Salt's, for the boxes that
stand in for CentOS 7 ([providers.nspawn] system_python = "el7"): neither the glibc 2.17 root
nor the Debian root with an rpm database has an EL7 Python of its own.

CentOS 7 ships Python 2.7.5 at /usr/bin/python; EPEL adds PyCrypto 2.6.1, tornado 4.2.1 and
pyzmq, the base PyYAML 3.10, Jinja2 2.7.2 (with MarkupSafe 0.11) and requests 2.6.0. No EL7
package is reachable here, so they are built with the glibc 2.17 toolchain from what is:
Debian's python2.7 (2.7.18, not EL7's 2.7.5) with OpenSSL 1.1.1 from bullseye's sources,
libzmq from bookworm's, and the libraries' own sdists from PyPI (el7_python.sh).

    trees = build(log)           # <cache>/el7-python/KEY/trees/<EL7 package>/usr/...
    copy_into(root, log)         # the files, merged, into a root without a package database
    install_rpms(root, log)      # one RPM per EL7 package, into a root's rpm database

A cold build takes a few minutes on two cores; the trees and the RPMs are cached under a
key of the sources, the toolchain and the recipe.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path
from typing import NamedTuple

from ... import progress, toolchain
from ...aptsources import source_mirror
from ...errors import LoggedError
from ...platform.rpm import DISTRO_RPMS
from ...runner import capture, run_logged
from ...sources import cache_root, digest, fetch_url, filling

RECIPE = Path(__file__).with_name("el7_python.sh")
PYPI = "https://files.pythonhosted.org/packages"
VERSION = "2.7.18"  # EL7's is 2.7.5: the fingerprint and the README say so


class Source(NamedTuple):
    url: str  # under the Debian mirror when relative
    sha256: str


SOURCES = (
    Source(
        "pool/main/p/python2.7/python2.7_2.7.18.orig.tar.gz",
        "da3080e3b488f648a3d7a4560ddee895284c3380b11d6de75edb986526b9a814",
    ),
    Source(  # bullseye's: the 1.1.1 line EL7's Python links (1.0.2 there)
        "pool/main/o/openssl/openssl_1.1.1w.orig.tar.gz",
        "cf3098950cb4d853ad95c0841f1f9c6d3dc102dccfcacd521d93925208b76ac8",
    ),
    Source(
        "pool/main/z/zlib/zlib_1.2.13.dfsg.orig.tar.bz2",
        "71feb7947e3c00ef125f83b79a4e529bde31171e5babe48b391f06758d1ab0a1",
    ),
    Source(
        "pool/main/z/zeromq3/zeromq3_4.3.4.orig.tar.gz",
        "0ff5a531c9ffaf0dfdc7dc78d13d1383088f454896d252934c429b2554d10559",
    ),
    Source(
        f"{PYPI}/60/db/645aa9af249f059cc3a368b118de33889219e0362141e75d4eaf6f80f163/"
        "pycrypto-2.6.1.tar.gz",
        "f2ce1e989b272cfcb677616763e0a2e7ec659effa67a88aa92b3a65528f60a3c",
    ),
    Source(
        f"{PYPI}/ec/af/c40ad78dacdef134f3e08b3103c3c859b14ceb9639d344811339227b6444/"
        "tornado-4.2.1.tar.gz",
        "a16fcdc4f76b184cb82f4f9eaeeacef6113b524b26a2cb331222e4a7fa6f2969",
    ),
    Source(
        f"{PYPI}/02/3a/72102bcf4c25b2b1c4af66e3863a0751226a6d07debf56e442b27f13df2e/"
        "pyzmq-15.3.0.zip",
        "a9918564b33ba17f0a6f145c85939e31797c39bb07ec888cfcd831bb6c41a32d",
    ),
    Source(
        f"{PYPI}/00/17/3b822893a1789a025d3f676a381338516a8f65e686d915b0834ecc9b4979/"
        "PyYAML-3.10.tar.gz",
        "e713da45c96ca53a3a8b48140d4120374db622df16ab71759c9ceb5b8d46fe7c",
    ),
    Source(
        f"{PYPI}/23/94/ca42176bf7a252ce1f5d165953013573dffdbe4b5dac07f57146146ea432/"
        "Jinja2-2.7.2.tar.gz",
        "310a35fbccac3af13ebf927297f871ac656b9da1d248b1fe6765affa71b53235",
    ),
    Source(
        f"{PYPI}/ee/51/df4a007a19f3de1b733adac77da11fa45f1ec5089549a7cc2d67195bb2c1/"
        "MarkupSafe-0.11.tar.gz",
        "f19442168c44db14b7093d1f93444233b05271dd76b4bb96ff8007ef83ac8855",
    ),
    Source(
        f"{PYPI}/eb/70/237e11db04807a9409ed39997097118208e7814309d9bc3da7bb98d1fe3d/"
        "requests-2.6.0.tar.gz",
        "1cdbed1f0e236f35ef54e919982c7a338e4fea3786310933d3a7887a04b74d75",
    ),
)


class Package(NamedTuple):
    version: str
    requires: tuple[str, ...] = ()


# EL7's package names (the catalog's conflicts name them), with what each needs of the others.
PACKAGES = {
    "python": Package(VERSION),
    "python-crypto": Package("2.6.1", ("python",)),
    "python-tornado": Package("4.2.1", ("python",)),
    "python-zmq": Package("15.3.0", ("python",)),
    "PyYAML": Package("3.10", ("python",)),
    "python-markupsafe": Package("0.11", ("python",)),
    "python-jinja2": Package("2.7.2", ("python", "python-markupsafe")),
    "python-requests": Package("2.6.0", ("python",)),
}
# Directories the distribution's filesystem owns; a package owns every other one it has.
SHARED_DIRS = {"usr", "usr/bin", "usr/lib", "usr/lib64", "usr/include", "usr/share"}
LIBRARY_DIRS = {"usr/lib/python2.7", "usr/lib/python2.7/site-packages"}  # python's own

SPEC = """Name: {name}
Version: {version}
Release: {release}
Summary: {name} as EL7 has it, built for glibc 2.17 by salt-venv-harness
License: various
AutoReqProv: no
{requires}
%global __os_install_post %{{nil}}
%global debug_package %{{nil}}
%global _build_id_links none
%description
Stands for EL7's {name}, for the checks of salt-venv-harness.
%install
cp -a {tree}/. %{{buildroot}}/
%files -f {file_list}
"""


def cache_key() -> str:
    parts = [s.sha256 for s in SOURCES] + [toolchain.WHEEL_SHA256, RECIPE.read_text()]
    parts.append(toolchain.WRAPPERS.read_text())
    parts.append(Path(__file__).read_text())  # how the RPMs are made
    return digest("el7-python-v1", *parts, repr(PACKAGES))[:16]


def _fetch(log: Path) -> list[Path]:
    mirror = source_mirror("EL7's system Python")
    urls = [s.url if "://" in s.url else f"{mirror}/{s.url}" for s in SOURCES]
    return [fetch_url(url, s.sha256, log) for url, s in zip(urls, SOURCES, strict=True)]


def build(log: Path) -> Path:
    """The package trees (trees/<package>/usr/...) and their RPMs (rpms/), built once."""
    final = cache_root() / "el7-python" / cache_key()
    if (final / "rpms").is_dir():
        return final
    sources = _fetch(log)
    tc = toolchain.ensure_toolchain(log)
    with (
        progress.step(f"EL7's system Python: building Python {VERSION} and EPEL's libraries"),
        filling(final) as out,
        tempfile.TemporaryDirectory(prefix="svh-el7-python-", dir="/var/tmp") as work,
    ):
        (Path(work) / "dl").mkdir()
        for source in sources:
            shutil.copy(source, Path(work) / "dl" / source.name)
        env = dict(os.environ, WORK=work, OUT=str(out / "trees"), TOOLCHAIN=str(tc), LC_ALL="C")
        env["TOOLCHAIN_WRAPPERS"] = str(toolchain.WRAPPERS)
        run_logged(["bash", str(RECIPE)], log, "the build of EL7's system Python", env=env)
        _check_packages(out / "trees", log)
        _make_rpms(out, Path(work), log)
    return final


def _check_packages(trees: Path, log: Path) -> None:
    built = {p.name for p in trees.iterdir()}
    if built != set(PACKAGES):
        wanted = sorted(PACKAGES)
        raise LoggedError(f"EL7's system Python: built {sorted(built)}, not {wanted}", log)


def _file_list(name: str, tree: Path) -> str:
    """rpm's %files lines: every file and link, and the directories only this package has."""
    shared = SHARED_DIRS | (LIBRARY_DIRS if name != "python" else set())
    lines = []
    for path in sorted(tree.rglob("*")):
        relative = path.relative_to(tree).as_posix()
        if path.is_dir() and not path.is_symlink():
            if relative not in shared:
                lines.append(f'%dir "/{relative}"')
        else:
            lines.append(f'"/{relative}"')
    return "\n".join(lines) + "\n"


def _make_rpms(out: Path, work: Path, log: Path) -> None:
    """rpms/NAME.rpm for each package; rpms/upgrade/NAME.rpm, the same files under a higher
    release, for each library (a distribution update the checks apply under our minion)."""
    for name, package in PACKAGES.items():
        tree = out / "trees" / name
        file_list = work / f"{name}.files"
        file_list.write_text(_file_list(name, tree))
        requires = "".join(f"Requires: {r}\n" for r in package.requires)
        releases = {"1.svh": out / "rpms"}
        if name != "python":
            releases["2.svh"] = out / "rpms" / "upgrade"
        for release, rpm_dir in releases.items():
            spec = work / f"{name}-{release}.spec"
            spec.write_text(
                SPEC.format(
                    name=name,
                    version=package.version,
                    release=release,
                    requires=requires,
                    tree=tree,
                    file_list=file_list,
                )
            )
            argv = ["rpmbuild", "-bb", "--quiet", "--define", f"_topdir {work}/rpmbuild"]
            argv += ["--define", f"_rpmdir {rpm_dir}", "--define", "_build_name_fmt %%{NAME}.rpm"]
            run_logged([*argv, str(spec)], log, f"rpmbuild of {name}-{release}")


def copy_into(root: Path, log: Path) -> None:
    """Every package's files into `root`, as they lie on EL7 (no package database)."""
    trees = build(log) / "trees"
    for name in PACKAGES:
        shutil.copytree(trees / name, root, dirs_exist_ok=True, symlinks=True)


def install_rpms(root: Path, log: Path) -> None:
    """The packages into the rpm database of `root` (Debian's rpm: --force-debian), and the
    RPMs kept in the root for the checks that change them (the box has no repository)."""
    built = build(log) / "rpms"
    rpms = sorted(str(p) for p in built.glob("*.rpm"))
    argv = ["rpm", "--root", str(root), "--force-debian", "-i", *rpms]
    run_logged(argv, log, "installing EL7's system Python into the image's rpm database")
    shutil.copytree(built, root / DISTRO_RPMS.lstrip("/"))
    check = capture(["chroot", str(root), "/usr/bin/python", "-c", "import Crypto, tornado"])
    if check.returncode != 0:
        raise LoggedError(f"EL7's system Python does not run in the image: {check.stderr}", log)
