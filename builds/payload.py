"""Stage the payload of every package on a build box, whatever the package format.

    staged = stage(machine, box, salt_version, defect, runner)   # -> StagedPayload

The venv is built AT /opt/salt on the (throwaway) build box, so no build root exists that
could leak into scripts, pyvenv.cfg, RECORD or .pyc files. Inputs come from the host's cache
(the box has no network): pip installs with --no-index from copied-in wheels.
- boxes whose system Python runs Salt: `python3.X -m venv --without-pip /opt/salt`, so
  /opt/salt/bin/python3 -> /usr/bin/python3.X (the package must depend on python3.X);
- boxes that bundle an interpreter (debian11, the EL releases): the portable CPython with
  prefix /opt/salt (portable.py) plus a pyvenv.cfg whose home is /opt/salt/bin, so site.py
  treats /opt/salt as an isolated venv (no user site-packages, no system site-packages).
  Python 2.7 (EL5) reads no pyvenv.cfg: its prefix is /opt/salt and its site.py's user site
  is switched off instead, and it gets no salt-pip (Salt brought it with 3006).

Staged layout, under StagedPayload.root on the box: one directory per package holding
that package's files at their installed paths (the package's buildroot):
    salt/opt/salt/...                    the venv: bin/python3, bin/salt-*,
                                         lib/python3.X/site-packages
    salt/usr/bin/{salt-call,spm,salt-pip}
    salt/etc/salt/  salt/etc/salt/pki/   (directories)
    salt/etc/logrotate.d/salt            (conffile)
    salt/var/log/salt/  salt/var/cache/salt/  salt/srv/salt/
    salt-minion/usr/bin/{salt-minion,salt-proxy}
    salt-minion/<unit_dir>/salt-minion.service
    salt-minion/etc/salt/minion (conffile)   salt-minion/etc/salt/minion.d/
    salt-master/usr/bin/{salt,salt-cp,salt-key,salt-master,salt-run}, unit,
        etc/salt/master, master.d/
    salt-syndic/usr/bin/salt-syndic, unit;  salt-api/usr/bin/salt-api, unit
    salt-cloud/usr/bin/salt-cloud, etc/salt/cloud, cloud.{conf,profiles,providers}.d/
    salt-ssh/usr/bin/salt-ssh, etc/salt/roster
unit_dir is /lib/systemd/system before Debian 13, /usr/lib/systemd/system from 13 (and EL).
Per package, StagedPayload.packages also says which files are conffiles, which units to
enable and start, shell lines to run after install (only defects use them), what to remove
on purge, and which of our packages it requires at exactly the same version.
A defect is a transform of defects.py, applied here to what was staged (or a build option
it sets), so every format gets it.
"""

from __future__ import annotations

import json
import shlex
import shutil
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from harness import platform, progress
from harness.catalog import Box

from . import defects, extras, layout, portable, wheels
from .inputs import fetch_inputs
from .locks import build_lock, canonical, parse_lock, salt_lock
from .remote import BoxRunner
from .transforms import BuildOptions

WORK = "/var/tmp/svh-build"
SITECUSTOMIZE = Path(__file__).with_name("files") / "portable" / "sitecustomize.py"
AS_PUBLISHED = Path(__file__).with_name("files") / "as_published.py"
# {name: version} of every distribution /opt/salt's Python sees (2.7 has no
# importlib.metadata: pip's own pkg_resources reads the same metadata there).
DISTRIBUTIONS = """import json
try:
    from importlib import metadata
    found = dict((d.metadata["Name"], d.version) for d in metadata.distributions())
except ImportError:
    from pip._vendor import pkg_resources
    found = dict(  # not the stdlib's own egg-info (wsgiref)
        (d.project_name, d.version)
        for d in pkg_resources.working_set
        if "site-packages" in d.location
    )
print(json.dumps(found))"""


@dataclass
class StagedPackage:
    name: str
    summary: str
    requires: list[str]  # our packages, at exactly the same version
    conffiles: list[str]  # absolute paths
    units: list[str]  # unit names to enable and start
    post_install: list[str]  # extra shell lines after install (defects only)
    purge: list[str]  # run-time state to remove on purge
    pre_upgrade: list[str] = field(default_factory=list)  # shell lines (defects only)
    # Shell lines before its files go in, on install and upgrade: the layout's system user.
    pre_install: list[str] = field(default_factory=list)
    # After every install, upgrade or downgrade: layout.CARRY_EXTRAS (the common package).
    carries_extras: bool = False
    tools: list[str] = field(default_factory=list)  # /usr/bin wrappers (layout's, by Python)
    distro_depends: list[str] = field(default_factory=list)  # the release's (defects only)
    # An upgrade's restart done before the package manager returns (DEB: unless a Salt job
    # runs it); False: only queued (defects only).
    restart_waits: bool = True
    init_scripts: bool = True  # DEB: an LSB script in /etc/init.d per daemon


@dataclass
class StagedPayload:
    box: str
    root: str  # on the box; root/<package>/<installed path>
    salt_version: str
    version: str  # package version, e.g. 3008.4-1
    python_version: str  # e.g. 3.11.2
    bundled_interpreter: bool
    system_python: str | None  # /usr/bin/python3.X the venv links to, when not bundled
    unit_dir: str
    defect: str | None
    packages: dict[str, StagedPackage] = field(default_factory=dict)
    bundled: dict[str, str] = field(default_factory=dict)  # dist name -> version in /opt/salt
    portable: bool = False  # built with the glibc 2.17 toolchain (its RPM needs only libc)
    venv_of_the_good_build: bool = False  # /opt/salt copied in from the good build's package
    # [a release candidate's package version, the final's], as this build names them
    prerelease_order: list[str] = field(default_factory=list)
    shape: layout.Shape = layout.VENV  # where the payload lives, what its packages are called

    def package_root(self, name: str) -> str:
        return f"{self.root}/{name}"


def python_minor(box) -> str:
    if box.python.bundle_interpreter:
        return box.python.bundled_version
    return ".".join(box.python.version.split(".")[:2])


@dataclass(frozen=True)
class Venv:
    """/opt/salt as staging needs it. A variant whose transform keeps the venv
    (transforms.Transform.keeps_the_venv) gets the good build's, from its package."""

    python_version: str
    system_python: str | None
    bundled: dict[str, str]
    # The good build's common package on the host, and how a build box unpacks it;
    # None where the venv was built on the box itself.
    package: Path | None = None
    unpack_command: Callable[[str, str], str] | None = None


def _unpack_the_good_venv(runner: BoxRunner, venv: Venv, shape: layout.Shape) -> None:
    """The good build's prefix from its package, sent and unpacked on the box: one file
    over the wire, not its ten thousand. Without the onedir's launchers, which the package
    carries at the prefix's top and staging writes again (files_tree)."""
    assert venv.package is not None and venv.unpack_command is not None
    prefix, good = shape.prefix, f"{WORK}/good"
    remote = f"{good}/{venv.package.name}"
    runner.run(f"mkdir -p {good}", "preparing the good build's package directory")
    runner.send_file(venv.package, remote, "copying the good build's package in")
    launchers = [shape.tool_path(t) for sub in layout.SUBPACKAGES for t in sub.tools]
    runner.run(
        f"{venv.unpack_command(remote, f'{good}/root')} && mkdir -p {prefix} && "
        f"rmdir {prefix} && mv {good}/root{prefix} {prefix} && rm -rf {good}"
        + (f" && rm -f {' '.join(launchers)}" if shape.launchers else ""),
        f"unpacking the good build's {prefix}",
    )


def stage(
    machine,
    box: Box,
    salt_version: str,
    defect: str | None,
    runner: BoxRunner,
    venv: Venv | None = None,
) -> StagedPayload:
    """Build the payload's prefix (/opt/salt, or the box's layout's) on the box, or copy in
    the good build's, and stage every package's files under WORK/stage."""
    minor = python_minor(box)
    shape = layout.shape(box.build.layout)
    prefix = shape.prefix
    runner.run(f"rm -rf {WORK} {prefix} && mkdir -p {WORK}", "preparing the build directory")
    reused = venv is not None
    if venv is None:
        venv = _build_venv(runner, box, salt_version, defect, minor)
    else:
        with progress.step(f"{box.name}: the good build's {prefix}, unchanged"):
            _unpack_the_good_venv(runner, venv, shape)
    payload = StagedPayload(
        box=box.name,
        root=f"{WORK}/stage",
        salt_version=salt_version,
        version=layout.package_version(salt_version, box),
        python_version=venv.python_version,
        bundled_interpreter=box.python.bundle_interpreter,
        portable=box.python.portable,
        system_python=venv.system_python,
        unit_dir=layout.unit_dir(box),
        defect=defect,
        bundled=venv.bundled,
        venv_of_the_good_build=reused,
        prerelease_order=layout.prerelease_order(salt_version, box),
        shape=shape,
    )
    with progress.step(f"{box.name}: staging the packages' files"):
        describe(payload, minor)
        _stage_files(runner, payload, minor)
    return payload


def _build_venv(
    runner: BoxRunner, box: Box, salt_version: str, defect: str | None, minor: str
) -> Venv:
    """The payload's prefix on the box from the locked inputs; its tree stays on the box."""
    options = defects.transform(defect).options
    prefix = layout.shape(box.build.layout).prefix
    lock, block = salt_lock(salt_version, minor), build_lock(minor)
    # A portable payload is built for the target's glibc, not the build box's.
    for_target = box.python.portable and options.target_glibc
    glibc = box.glibc if for_target else _build_box_glibc(runner)
    with progress.step(
        f"{box.name}: inputs for Salt {salt_version}, Python {minor}, glibc {glibc}"
    ):
        inputs = fetch_inputs(lock, block, minor, glibc, runner.log, progress=progress.detail)
        runner.copy_in(inputs, f"{WORK}/inputs", "copying the inputs into the box")
    system_python, python_version = _interpreter(runner, box, minor, options)
    python = platform.Layout.of(box, prefix).interpreter

    with progress.step(f"{box.name}: installing Salt {salt_version} into {prefix}"):
        _install(runner, box, inputs, python, python_version, options)
        _write_package_type(runner, prefix, minor, layout.shape(box.build.layout))
        if layout.carries_salt_pip(minor):
            extras.provide(runner, minor, layout.shape(box.build.layout))
        bundled = json.loads(
            runner.output(
                f"{python} {platform.isolation_flags(minor)} -c {shlex.quote(DISTRIBUTIONS)}",
                "listing the distributions in the venv",
            )
        )
        _check_hygiene(runner, python, minor, prefix)
    bundled = {canonical(k): v for k, v in sorted(bundled.items())}
    return Venv(python_version, system_python, bundled)


def _write_package_type(runner: BoxRunner, prefix: str, minor: str, shape: layout.Shape) -> None:
    """salt/_pkg.txt, where the layout names its package type (Shape.package_type)."""
    if shape.package_type is not None:
        salt = f"{prefix}/lib/python{minor}/site-packages/salt"
        runner.machine.write_text(f"{salt}/_pkg.txt", shape.package_type + "\n")


def _build_box_glibc(runner: BoxRunner) -> str:
    return runner.output("getconf GNU_LIBC_VERSION", "asking the box for its glibc").split()[-1]


def _interpreter(
    runner: BoxRunner, box: Box, minor: str, options: BuildOptions
) -> tuple[str | None, str]:
    """The prefix's interpreter: the bundled (portable) CPython, or a venv on the system's.
    Returns (the system Python it runs on, its version)."""
    prefix = layout.shape(box.build.layout).prefix
    if box.python.portable:
        python_version = portable.install(runner, box, prefix)
        portable.send_toolchain(runner, box)  # the sdists compile with it too
        runner.machine.put_file(SITECUSTOMIZE, f"{prefix}/lib/python{minor}/sitecustomize.py")
        if not options.own_libssl:
            runner.run(
                f"rm -f {prefix}/lib/libssl.so* {prefix}/lib/libcrypto.so*",
                f"leaving out {prefix}'s own libssl and libcrypto",
            )
    else:
        system_python = f"/usr/bin/python{minor}"
        runner.run(
            f"{system_python} -m venv --without-pip {prefix}",
            f"creating the venv with {system_python}",
        )
        python_version = runner.output(
            f"{prefix}/bin/python3 -c 'import platform; print(platform.python_version())'",
            "asking the venv its Python version",
        ).strip()
        return system_python, python_version
    if minor.startswith("2."):
        _no_user_site(runner, minor, prefix)
        return None, python_version
    # home = our own bin: site.py then runs the prefix as an isolated venv of itself.
    runner.run(
        f"printf 'home = {prefix}/bin\\ninclude-system-site-packages = false\\n"
        f"version = {python_version}\\n' > {prefix}/pyvenv.cfg",
        "writing pyvenv.cfg for the bundled CPython",
    )
    return None, python_version


def _no_user_site(runner: BoxRunner, minor: str, prefix: str) -> None:
    """Python 2.7 reads no pyvenv.cfg; its prefix is /opt/salt, so no system site-packages
    is on its path, but ~/.local's would be: site.py's switch is turned off, as a venv's
    include-system-site-packages = false does on Python 3."""
    site = f"{prefix}/lib/python{minor}/site.py"
    runner.run(
        f"sed -i 's/^ENABLE_USER_SITE = None$/ENABLE_USER_SITE = False/' {site} && "
        f"grep -q '^ENABLE_USER_SITE = False$' {site} && rm -f {site}c {site}o && "
        f"{prefix}/bin/python{minor} -E -m py_compile {site}",
        "turning off the user site-packages of /opt/salt's Python 2.7",
    )


def _install(
    runner: BoxRunner,
    box,
    inputs: Path,
    python: str,
    python_version: str,
    options: BuildOptions,
):
    wi = f"{WORK}/inputs"
    pip_pin = next(p for p in parse_lock((inputs / "build-lock.txt").read_text()) if p.key == "pip")
    pip_wheel = next((inputs / "build").glob(f"pip-{pip_pin.version}-*.whl")).name
    # pip runs from its own wheel to install itself, by name, so no direct_url.json records a path.
    runner.run(
        f"{python} {wi}/build/{pip_wheel}/pip install -q --no-index --no-deps "
        f"--disable-pip-version-check --find-links {wi}/build pip=={pip_pin.version}",
        "installing pip into the venv",
    )
    # Portable payloads compile for the target's glibc (the toolchain, or zig cc below 2.17).
    for_target = box.python.portable and options.target_glibc
    env = portable.compile_env(box, layout.shape(box.build.layout).prefix) if for_target else None
    wheels.provide(runner, box, inputs, wi, python, python_version, f"{WORK}/wheels", env)
    if for_target:
        portable.keep_compiled_runtimes(runner, box)
    pins = [
        p for p in parse_lock((inputs / "lock.txt").read_text()) if p.key not in options.left_out
    ]
    names = "\n".join(f"{p.name}=={p.version}" for p in pins) + "\n"
    runner.machine.write_text(f"{WORK}/requirements.txt", names)
    # Exactly the locked files: --no-deps, then pip check proves the set is complete.
    runner.run(
        f"{python} -m pip install -q --no-index --no-deps --disable-pip-version-check "
        f"--find-links {wi}/dist --find-links {WORK}/wheels -r {WORK}/requirements.txt",
        "installing the locked distributions into the venv",
    )
    if not options.left_out:  # a set left incomplete on purpose fails pip check
        runner.run(
            f"{python} -m pip check --disable-pip-version-check", "checking the venv's dependencies"
        )
    # Each module whose distribution the lock has (Salt 3005 bundles its own tornado and
    # needs no cryptography).
    locked = {p.key for p in pins}
    wanted = {"salt.version": "salt", "msgpack": "msgpack", "zmq": "pyzmq", "tornado": "tornado"}
    wanted |= {"cryptography": "cryptography", "yaml": "pyyaml", "jinja2": "jinja2"}
    modules = ", ".join(m for m, dist in wanted.items() if dist in locked)
    flags = platform.isolation_flags(python_version)
    runner.run(f"{python} {flags} -c 'import {modules}'", "importing Salt from the venv")


def _check_hygiene(runner: BoxRunner, python: str, minor: str, prefix: str):
    """Fail the build if the venv points outside itself or kept a build path. Our own build
    paths fail anywhere; pip's only where the file is not as its published wheel has it."""
    runner.machine.put_file(AS_PUBLISHED, f"{WORK}/as_published.py")
    published = f"{python} {platform.isolation_flags(minor)} {WORK}/as_published.py"
    script = f"""
bad=$(grep -rl -- '/var/tmp/svh-' {prefix} || true)
[ -z "$bad" ] || {{ echo "build paths left in: $bad"; exit 1; }}
bad=$({{ grep -rl -- '/tmp/pip-' {prefix} || true; }} | {published})
[ -z "$bad" ] || {{ echo "pip's build paths left in: $bad"; exit 1; }}
for f in {prefix}/bin/*; do
    [ -f "$f" ] && [ ! -L "$f" ] || continue
    line=$(head -c 200 "$f" | head -n 1 | tr -d '\\0')
    case "$line" in
        '#!{prefix}/'*|'#!/bin/sh'|'#!/bin/bash') ;;  # python3.X-config is a shell script
        '#!'*) echo "shebang outside {prefix}: $f: $line"; exit 1 ;;
    esac
    grep -q "^'''exec'" "$f" && {{ echo "pip's exec trick in $f"; exit 1; }} || true
done
for pth in $(find {prefix} -name '*.pth' -o -name '*.egg-link'); do
    grep -E '^/' "$pth" | grep -v '^{prefix}/' &&
        {{ echo "absolute path outside {prefix} in $pth"; exit 1; }} || true
done
"""
    runner.run(script, "checking the venv for build paths, foreign shebangs and .pth entries")


def describe(payload: StagedPayload, minor: str):
    """Every package of the payload: what it requires, its conffiles, units and scripts
    (a defect changes them after)."""
    with_salt_pip = layout.carries_salt_pip(minor)
    shape = payload.shape
    for sub in layout.SUBPACKAGES:
        payload.packages[sub.name] = StagedPackage(
            name=sub.name,
            summary=sub.summary,
            requires=list(sub.requires),
            conffiles=layout.conffiles(sub),
            units=list(sub.units),
            post_install=layout.private_group(shape) if sub.name == layout.COMMON else [],
            purge=list(sub.purge),
            carries_extras=sub.name == layout.COMMON and with_salt_pip,
            tools=[t for t in sub.tools if with_salt_pip or t != layout.SALT_PIP],
            pre_install=layout.system_user(shape) if sub.name == layout.COMMON else [],
        )
    defects.transform(payload.defect).describe(payload, minor)


def files_tree(payload: StagedPayload, dest: Path):
    """Write every package's non-venv files (wrappers or launchers, units, configs, dirs)
    under dest."""
    shape = payload.shape
    for sub in layout.SUBPACKAGES:
        root = dest / sub.name
        root.mkdir(parents=True)
        for tool in payload.packages[sub.name].tools:
            _tool(dest, root, tool, shape)
        for unit in sub.units:
            _write(root / payload.unit_dir.lstrip("/") / unit, layout.unit_text(unit), 0o644)
        for conf in sub.configs:
            _write(root / "etc/salt" / conf, layout.config_text(conf, shape), 0o644)
        for d in sub.dirs:
            (root / d.lstrip("/")).mkdir(parents=True, exist_ok=True)
            if d in layout.PRIVATE_DIRS:
                (root / d.lstrip("/")).chmod(layout.private_access(shape)[0])
        if sub.name == layout.COMMON:
            _write(
                root / layout.LOGROTATE.lstrip("/"),
                (layout.FILES_DIR / "logrotate/salt").read_text(),
                0o644,
            )
    defects.transform(payload.defect).files(payload, dest)


def _tool(dest: Path, root: Path, tool: str, shape: layout.Shape) -> None:
    """/usr/bin/TOOL in the package of ROOT: our wrapper, or (onedir) a link to the launcher
    at the prefix's top, which the common package carries as Salt's does."""
    if not shape.launchers:
        _write(root / "usr/bin" / tool, layout.wrapper_text(tool), 0o755)
        return
    launcher = shape.tool_path(tool)
    _write(dest / layout.COMMON / launcher.lstrip("/"), layout.wrapper_text(tool, "", shape), 0o755)
    link = root / "usr/bin" / tool
    link.parent.mkdir(parents=True, exist_ok=True)
    link.symlink_to(launcher)


def _write(path: Path, text: str, mode: int):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    path.chmod(mode)


def _stage_files(runner: BoxRunner, payload: StagedPayload, minor: str):
    tmp = Path(tempfile.mkdtemp(prefix="svh-files-"))
    try:
        files_tree(payload, tmp)
        runner.run(
            f"rm -rf {payload.root} && mkdir -p {payload.root}", "preparing the stage directory"
        )
        runner.copy_in(tmp, payload.root, "copying wrappers, units and configs in")
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    prefix = payload.shape.prefix
    venv = f"{payload.root}/{layout.COMMON}{prefix}"
    # Hard links: the box's prefix is not read again, and a transform that edits a file
    # in place may change both names.
    runner.run(
        f"mkdir -p {venv} && cp -al {prefix}/. {venv}/ && chown -R root:root {payload.root} "
        f"&& chmod 755 {payload.root}/*",
        "copying the venv into the stage",
    )
    command = defects.transform(payload.defect).venv(payload, venv, minor)
    if command:
        runner.run(command, f"defect {payload.defect}: breaking the staged venv")
