"""An EL release's system Python and the libraries of that release (and EPEL's) that conflict
with Salt's, for the boxes that stand in for it ([providers.nspawn] system_python = "el7",
"el6" or "el5"): neither the glibc 2.17 root nor the Debian root with an rpm database has an
EL Python of its own.

CentOS 7 ships Python 2.7.5 at /usr/bin/python, CentOS 6 Python 2.6.6, CentOS 5 Python 2.4.3;
RELEASES says which libraries each adds and at which versions. No EL package is reachable
here, so they are built with the glibc 2.17 toolchain from what is: Debian's python2.7 (2.7.18
for every release: Debian has no 2.6 or 2.4 source) with OpenSSL 1.1.1 from bullseye's
sources, libzmq from bookworm's, and the libraries' own sdists from PyPI (system_python.sh).
In two cached steps: the interpreter with its C libraries, once for every release, then each
release's libraries on it.

    interpreter(log)                # <cache>/system-python/interpreter/KEY/{python,deps}/
    build(release, log)             # <cache>/system-python/RELEASE/KEY/trees/<package>/usr/...
    copy_into(release, root, log)   # the files, merged, into a root without a package database
    install_rpms(release, root, log)  # one RPM per package, into a root's rpm database

A cold interpreter takes a few minutes on two cores, a release's libraries under a minute;
each is cached under a key of its sources, the toolchain and the recipe.
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

RECIPE = Path(__file__).with_name("system_python.sh")
PYPI = "https://files.pythonhosted.org/packages"
VERSION = "2.7.18"  # every release's here; Release.python is the release's own


class Source(NamedTuple):
    url: str  # under the Debian mirror when relative
    sha256: str

    @property
    def name(self) -> str:
        return self.url.rsplit("/", 1)[1]


# The interpreter and the C libraries under it, the same for every release.
INTERPRETER_SOURCES = (
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
)


class Library(NamedTuple):
    package: str  # the release's package name (the catalog's conflicts name it)
    version: str
    source: Source  # its sdist; the recipe builds it in src/<project, lower case>
    how: str  # the recipe's install_HOW and its arguments: "setup", "copy DIR", "pyzmq", ...
    requires: tuple[str, ...] = ("python",)


class Release(NamedTuple):
    title: str  # as the RPMs and the progress lines name it
    python: str  # the release's own Python (the boxes' fingerprints say it)
    libraries: tuple[Library, ...]  # in the order they are built
    # What its Python must import once the libraries are in (the image build's check).
    imports: tuple[str, ...] = ("Crypto", "tornado")


class Package(NamedTuple):
    version: str
    requires: tuple[str, ...] = ()


PYYAML_3_10 = Library(
    "PyYAML",
    "3.10",
    Source(
        f"{PYPI}/00/17/3b822893a1789a025d3f676a381338516a8f65e686d915b0834ecc9b4979/"
        "PyYAML-3.10.tar.gz",
        "e713da45c96ca53a3a8b48140d4120374db622df16ab71759c9ceb5b8d46fe7c",
    ),
    "setup --without-libyaml",
)

PYCRYPTO_2_0_1 = Library(  # EL6's and EPEL 5's
    "python-crypto",
    "2.0.1",
    Source(
        f"{PYPI}/53/fb/ea21d858d71d76aabbe511580f359ca0bf9b65a0cf37cab59e3978fb47d9/"
        "pycrypto-2.0.1.tar.gz",
        "b08d4ed54c9403c77778a3803e53a4f33f359b42d94f6f3e14abb1bf4941e6ea",
    ),
    "pycrypto2",
)

EL7 = Release(
    "EL7",
    "2.7.5",
    (
        Library(
            "python-crypto",
            "2.6.1",
            Source(
                f"{PYPI}/60/db/645aa9af249f059cc3a368b118de33889219e0362141e75d4eaf6f80f163/"
                "pycrypto-2.6.1.tar.gz",
                "f2ce1e989b272cfcb677616763e0a2e7ec659effa67a88aa92b3a65528f60a3c",
            ),
            "setup",
        ),
        Library(
            "python-tornado",
            "4.2.1",
            Source(
                f"{PYPI}/ec/af/c40ad78dacdef134f3e08b3103c3c859b14ceb9639d344811339227b6444/"
                "tornado-4.2.1.tar.gz",
                "a16fcdc4f76b184cb82f4f9eaeeacef6113b524b26a2cb331222e4a7fa6f2969",
            ),
            "setup",
        ),
        PYYAML_3_10,
        Library(
            "python-markupsafe",
            "0.11",
            Source(
                f"{PYPI}/ee/51/df4a007a19f3de1b733adac77da11fa45f1ec5089549a7cc2d67195bb2c1/"
                "MarkupSafe-0.11.tar.gz",
                "f19442168c44db14b7093d1f93444233b05271dd76b4bb96ff8007ef83ac8855",
            ),
            "copy markupsafe",
        ),
        Library(
            "python-jinja2",
            "2.7.2",
            Source(
                f"{PYPI}/23/94/ca42176bf7a252ce1f5d165953013573dffdbe4b5dac07f57146146ea432/"
                "Jinja2-2.7.2.tar.gz",
                "310a35fbccac3af13ebf927297f871ac656b9da1d248b1fe6765affa71b53235",
            ),
            "copy jinja2",
            ("python", "python-markupsafe"),
        ),
        Library(
            "python-requests",
            "2.6.0",
            Source(
                f"{PYPI}/eb/70/237e11db04807a9409ed39997097118208e7814309d9bc3da7bb98d1fe3d/"
                "requests-2.6.0.tar.gz",
                "1cdbed1f0e236f35ef54e919982c7a338e4fea3786310933d3a7887a04b74d75",
            ),
            "setup",
        ),
        Library(
            "python-zmq",
            "15.3.0",
            Source(
                f"{PYPI}/02/3a/72102bcf4c25b2b1c4af66e3863a0751226a6d07debf56e442b27f13df2e/"
                "pyzmq-15.3.0.zip",
                "a9918564b33ba17f0a6f145c85939e31797c39bb07ec888cfcd831bb6c41a32d",
            ),
            "pyzmq",
        ),
    ),
)

# CentOS 6's and EPEL 6's, as they ship them: Jinja2 2.2.1 needs no MarkupSafe, and there is
# no python-requests among EL6's conflicts.
EL6 = Release(
    "EL6",
    "2.6.6",
    (
        PYCRYPTO_2_0_1,
        Library(
            "python-tornado",
            "2.2.1",
            Source(
                f"{PYPI}/d8/da/b44fa82b5396b23b2ed88e84b04c3b477d88e8891ceb801dcc21ab6888b2/"
                "tornado-2.2.1.tar.gz",
                "466fea7696457be3d7b9c9a97c16011f0988788336e7d6fd344554a042d203c1",
            ),
            "setup",
        ),
        PYYAML_3_10,
        Library(
            "python-jinja2",
            "2.2.1",
            Source(
                f"{PYPI}/cd/a7/393d52afb5b1fd11470d12a38f316717f3645ad95d9541f69dced68aff79/"
                "Jinja2-2.2.1.tar.gz",
                "b90e99f12c035f67bcf9f865c46bb7048d62fbcadd892f5ae7633a4e53e01df3",
            ),
            "copy jinja2",
        ),
        Library(
            "python-zmq",
            "14.3.1",
            Source(
                f"{PYPI}/cb/39/5323b428c1c09b74fdab737cc32973a3007b83f901d7072dddc46af18165/"
                "pyzmq-14.3.1.tar.gz",
                "00e263c26a524f81127247e6f37cbf427eddf3a3657d170cf4865bd522df3914",
            ),
            "pyzmq",
        ),
    ),
)

# EPEL 5's, on the same Python 2.7 (EL5's is 2.4.3). simplejson 2.0.9's setup.py wants
# setuptools' Feature (gone since setuptools 46) and fetches setuptools 0.6 through ez_setup,
# so its package is copied as is, as EL7's MarkupSafe is: without the optional C speedups,
# which simplejson does without (its pure Python scanner and encoder).
EL5 = Release(
    "EL5",
    "2.4.3",
    (
        PYCRYPTO_2_0_1,
        Library(
            "python-simplejson",
            "2.0.9",
            Source(
                f"{PYPI}/da/8c/a45815b421e49acad7d3d0db4ba65ba1e5cfa02a30c794fe55954106cb0b/"
                "simplejson-2.0.9.tar.gz",
                "abcdf460778beff48ba13faf5b5810cf3803e5c8d872b5fc529226aa56ec93ee",
            ),
            "copy simplejson",
        ),
    ),
    ("Crypto", "simplejson"),
)

RELEASES = {"el7": EL7, "el6": EL6, "el5": EL5}

# Directories the distribution's filesystem owns; a package owns every other one it has.
SHARED_DIRS = {"usr", "usr/bin", "usr/lib", "usr/lib64", "usr/include", "usr/share"}
LIBRARY_DIRS = {"usr/lib/python2.7", "usr/lib/python2.7/site-packages"}  # python's own

SPEC = """Name: {name}
Version: {version}
Release: {release}
Summary: {name} as {title} has it, built for glibc 2.17 by salt-venv-harness
License: various
AutoReqProv: no
{requires}
%global __os_install_post %{{nil}}
%global debug_package %{{nil}}
%global _build_id_links none
%description
Stands for {title}'s {name}, for the checks of salt-venv-harness.
%install
cp -a {tree}/. %{{buildroot}}/
%files -f {file_list}
"""


def packages(release: str) -> dict[str, Package]:
    """The release's package names, with what each needs of the others."""
    found = {"python": Package(VERSION)}
    for library in RELEASES[release].libraries:
        found[library.package] = Package(library.version, library.requires)
    return found


def interpreter_key() -> str:
    parts = [s.sha256 for s in INTERPRETER_SOURCES] + [toolchain.WHEEL_SHA256]
    parts += [RECIPE.read_text(), toolchain.WRAPPERS.read_text()]
    return digest("system-python-interpreter-v1", *parts)[:16]


def cache_key(release: str) -> str:
    parts = [interpreter_key(), release, repr(RELEASES[release])]
    parts += [RECIPE.read_text(), toolchain.WRAPPERS.read_text()]
    parts.append(Path(__file__).read_text())  # how the RPMs are made
    return digest("system-python-v1", *parts)[:16]


def _fetch(sources: tuple[Source, ...], work: Path, log: Path) -> None:
    """The sources into work/dl."""
    relative = [s for s in sources if "://" not in s.url]
    mirror = source_mirror("EL's system Python") if relative else ""
    (work / "dl").mkdir()
    for s in sources:
        url = s.url if "://" in s.url else f"{mirror}/{s.url}"
        shutil.copy(fetch_url(url, s.sha256, log), work / "dl" / s.name)


def _run_recipe(step: str, work: Path, out: Path, log: Path, what: str, **extra: str) -> None:
    tc = toolchain.ensure_toolchain(log)
    env = dict(os.environ, WORK=str(work), OUT=str(out), TOOLCHAIN=str(tc), LC_ALL="C")
    env["TOOLCHAIN_WRAPPERS"] = str(toolchain.WRAPPERS)
    run_logged(["bash", str(RECIPE), step], log, what, env=env | extra)


def interpreter(log: Path) -> Path:
    """Python 2.7 (python/usr/...) and the static C libraries it and pyzmq link (deps/), built
    once for every release."""
    final = cache_root() / "system-python" / "interpreter" / interpreter_key()
    if (final / "python").is_dir():
        return final
    with (
        progress.step(f"EL's system Python: building Python {VERSION}, OpenSSL, zlib, libzmq"),
        filling(final) as out,
        tempfile.TemporaryDirectory(prefix="svh-system-python-", dir="/var/tmp") as work,
    ):
        _fetch(INTERPRETER_SOURCES, Path(work), log)
        _run_recipe("interpreter", Path(work), out, log, "the build of EL's system Python")
    return final


def build(release: str, log: Path) -> Path:
    """The release's package trees (trees/<package>/usr/...) and RPMs (rpms/), built once."""
    final = cache_root() / "system-python" / release / cache_key(release)
    if (final / "rpms").is_dir():
        return final
    built = interpreter(log)
    title, python, libraries = RELEASES[release][:3]
    with (
        progress.step(
            f"{title}'s system Python: {title}'s libraries on Python {VERSION} ({python} there)"
        ),
        filling(final) as out,
        tempfile.TemporaryDirectory(prefix=f"svh-{release}-python-", dir="/var/tmp") as work,
    ):
        _fetch(tuple(lib.source for lib in libraries), Path(work), log)
        lines = "".join(f"{lib.package} {lib.source.name} {lib.how}\n" for lib in libraries)
        what = f"the build of {title}'s libraries"
        _run_recipe(
            "libraries",
            Path(work),
            out / "trees",
            log,
            what,
            INTERPRETER=str(built),
            LIBRARIES=lines,
        )
        _check_packages(release, out / "trees", log)
        _make_rpms(release, out, Path(work), log)
    return final


def _check_packages(release: str, trees: Path, log: Path) -> None:
    built = {p.name for p in trees.iterdir()}
    if built != set(packages(release)):
        wanted = sorted(packages(release))
        title = RELEASES[release].title
        raise LoggedError(f"{title}'s system Python: built {sorted(built)}, not {wanted}", log)


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


def _make_rpms(release: str, out: Path, work: Path, log: Path) -> None:
    """rpms/NAME.rpm for each package; rpms/upgrade/NAME.rpm, the same files under a higher
    release, for each library (a distribution update the checks apply under our minion)."""
    for name, package in packages(release).items():
        tree = out / "trees" / name
        file_list = work / f"{name}.files"
        file_list.write_text(_file_list(name, tree))
        requires = "".join(f"Requires: {r}\n" for r in package.requires)
        releases = {"1.svh": out / "rpms"}
        if name != "python":
            releases["2.svh"] = out / "rpms" / "upgrade"
        for rpm_release, rpm_dir in releases.items():
            spec = work / f"{name}-{rpm_release}.spec"
            spec.write_text(
                SPEC.format(
                    name=name,
                    version=package.version,
                    release=rpm_release,
                    title=RELEASES[release].title,
                    requires=requires,
                    tree=tree,
                    file_list=file_list,
                )
            )
            argv = ["rpmbuild", "-bb", "--quiet", "--define", f"_topdir {work}/rpmbuild"]
            argv += ["--define", f"_rpmdir {rpm_dir}", "--define", "_build_name_fmt %%{NAME}.rpm"]
            run_logged([*argv, str(spec)], log, f"rpmbuild of {name}-{rpm_release}")


def copy_into(release: str, root: Path, log: Path) -> None:
    """Every package's files into `root`, as they lie on the release (no package database)."""
    trees = build(release, log) / "trees"
    for name in packages(release):
        shutil.copytree(trees / name, root, dirs_exist_ok=True, symlinks=True)


def install_rpms(release: str, root: Path, log: Path) -> None:
    """The packages into the rpm database of `root` (Debian's rpm: --force-debian), and the
    RPMs kept in the root for the checks that change them (the box has no repository)."""
    title = RELEASES[release].title
    built = build(release, log) / "rpms"
    rpms = sorted(str(p) for p in built.glob("*.rpm"))
    argv = ["rpm", "--root", str(root), "--force-debian", "-i", *rpms]
    run_logged(argv, log, f"installing {title}'s system Python into the image's rpm database")
    shutil.copytree(built, root / DISTRO_RPMS.lstrip("/"))
    imports = f"import {', '.join(RELEASES[release].imports)}"
    check = capture(["chroot", str(root), "/usr/bin/python", "-c", imports])
    if check.returncode != 0:
        raise LoggedError(f"{title}'s system Python does not run in the image: {check.stderr}", log)
