"""Deliberately broken package sets, one classic venv-packaging failure each, to prove that
the verifier catches it. A defect build differs from the good build only in the way its
name says.

Each defect is one small named transform here, applied to what staging made before it is
packed, in either install layout (builds.layout.SHAPES: the prefix, the wrappers or the
onedir's launchers are the layout's): the packages' description (scripts, conffiles), the
files tree beside the venv (wrappers, units, configs) or the staged venv. Where a defect
must change the build itself (wheels for another glibc, a bundled CPython without its own
libssl, a distribution left out) it is a build option. The staging code (payload.py) asks
for the transforms and options; it never tests a defect's name.
"""

from __future__ import annotations

import shlex
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from harness import catalog

from . import extras, layout
from .errors import BuildError
from .transforms import BuildOptions, Transform

if TYPE_CHECKING:
    from .payload import StagedPayload

DEFECTS: dict[str, str] = {
    "system-site-packages": "the venv sees the distribution's dist-packages",
    "buildroot-paths": "a build path is left in the scripts' shebangs and in pyvenv.cfg",
    "ld-export": "an /etc/ld.so.conf.d entry exports /opt/salt's libraries to the whole system",
    "wrapper-pythonpath": (
        "the /usr/bin wrappers put the distribution's dist-packages on PYTHONPATH"
    ),
    "missing-dep": "msgpack is left out of the venv",
    "unit-path": "the salt-minion unit's ExecStart points to a path that does not exist",
    "conffile": "/etc/salt/minion is not a conffile, so an upgrade overwrites local edits",
    "distro-clobber": (
        "the post-install script replaces a file of the distribution's python3-tornado"
    ),
    "service-state": (
        "the post-install script unmasks, enables and restarts every unit, whatever the admin chose"
    ),
    "upgrade-stops": (
        "the pre-install script stops the daemons before an upgrade (the post-install only "
        "restarts running ones), so a minion that upgrades itself never comes back"
    ),
    "world-writable": "a directory of Salt's code under /opt/salt is writable by every user",
    "root-only": "a directory of Salt's code under /opt/salt is readable by root only",
    "runtime-writes": (
        "the payload ships no bytecode, so Salt's first runs write .pyc files into /opt/salt"
    ),
    "conffile-prompt": (
        "/etc/salt/minion names the Salt version, so every upgrade over a local edit asks "
        "the admin at a conffile prompt"
    ),
    "extras-wiped": "the post-install script empties salt-pip's extras, so an upgrade loses them",
    "extras-stranded": (
        "no package script moves salt-pip's extras when an upgrade changes the bundled "
        "Python's minor: they stay in extras-3.11, off 3.13's path, and nothing says so "
        "(salt#69526)"
    ),
    "ownership-reset": (
        "the post-install script hands /etc/salt, /var/cache/salt and /var/log/salt back to "
        "root on every upgrade, as packages that 'reset permissions' do (salt#65264, "
        "salt#68793): a master an admin runs as a user of their own loses its key store"
    ),
    "version-stamp": "Salt's version stamp (salt/_version.txt) names another version",
    "distro-dep": (
        "salt Depends on the distribution's python3-tornado, as a control file copied from "
        "Debian's own salt does: our package ties itself to the library it must not touch"
    ),
    "stop-signal": (
        "the salt-minion unit stops it with SIGUSR1, on which Salt dumps its stacks and goes "
        "on: a stop hangs until systemd kills it"
    ),
    "missing-script": (
        "salt-cloud's console script is left out of /opt/salt/bin: its /usr/bin wrapper "
        "runs nothing"
    ),
    "no-libyaml": (
        "PyYAML is packed without its C extension: Salt reads every YAML file with the "
        "pure-Python loader (salt#69907)"
    ),
    "exit-noise": (
        "every /opt/salt interpreter writes a teardown warning to stderr as it exits, as a "
        "zmq context left open does"
    ),
    "slimmed": (
        "the payload is slimmed by dropping salt/utils/cloud.py: the salt.cloud subpackage "
        "no longer imports"
    ),
    "logrotate-dir": (
        "the logrotate config ships as a directory, /etc/logrotate.d/salt/salt-common, which "
        "logrotate never reads: Salt's logs grow unrotated (salt#65231)"
    ),
    "rc-above-final": (
        "a release candidate's packages are named as PEP 440 spells it (3008.4rc1-1), which "
        "dpkg and rpm sort above the final: the final never replaces the candidate"
    ),
    "salt-pip-target": (
        "salt-pip runs pip install --target straight into the extras, as Salt's own does: a "
        "second extension of the saltext namespace arrives as metadata only (salt#65433)"
    ),
    "python-unversioned": (
        "the venv's interpreter links to /usr/bin/python3, the release's moving default, "
        "not to python3.X: a distribution upgrade swaps the minor under site-packages built "
        "for the old one (the manifest still names python3.X)"
    ),
    "restart-queued": (
        "an upgrade only queues the daemons' restarts (systemctl --no-block), also where no "
        "Salt job waits: the package manager returns while they run, and an admin's stop "
        "right after is undone by one"
    ),
    "orphans-on-stop": (
        "the salt-minion unit stops with KillMode=process: a job's child that ignores "
        "SIGTERM outlives every stop of the minion (salt#68406)"
    ),
    "no-init-scripts": (
        "the DEBs carry no /etc/init.d script for their daemons, as Salt's DEBs do: a Debian "
        "booted with sysvinit never starts them"
    ),
    # Portable payloads (centos7, centos6, centos5) only: what the ABI ceiling and the glibc 2.17
    # boxes catch,
    # and what only a bundled interpreter can lack.
    "build-glibc": (
        "Salt's dependencies are taken and compiled for the build box's glibc (2.36), not "
        "the target's (2.17 for centos7, 2.12 for centos6, 2.5 for centos5): their wheels and "
        "compiled sdists arrive linked against a newer glibc"
    ),
    "system-libssl": (
        "the bundled CPython takes libssl and libcrypto from the system: /opt/salt's own "
        "copies are left out"
    ),
    "stdlib-gap": "the bundled CPython lacks the stdlib's cmath (salt#63718)",
    # RPM scriptlets (centos7, proven on centos7-rpm). On upgrade rpm runs the old
    # package's %preun and %postun: those two are built into the older line.
    "preun-stops": (
        "%preun stops the daemons on upgrade too, not only on erase: the older line's "
        "upgrade leaves the minion stopped"
    ),
    "postun-no-restart": (
        "%postun does not restart a running daemon on upgrade: the older line's upgrade "
        "leaves the minion running the old files"
    ),
    "config-replaced": (
        "/etc/salt/minion is %config without noreplace and changes between the lines: "
        "the upgrade replaces an edited config and sets the edit aside as .rpmsave"
    ),
    "post-starts-all": (
        "%post enables and starts every daemon on every upgrade, whatever the admin chose"
    ),
}
# Sound variants: a deliberate change the suites must pass, so that a check's branch the
# good build never takes runs for real (the good lines ship the same /etc/salt/minion).
VARIANTS: dict[str, str] = {
    "config-changes": (
        "sound, must pass: /etc/salt/minion changes between the lines, still "
        "%config(noreplace): an upgrade keeps an edit and sets the new copy aside as .rpmnew"
    ),
}
EVERY = {**DEFECTS, **VARIANTS}  # every name --defect takes, with its description
PORTABLE = {"build-glibc", "system-libssl", "stdlib-gap"}  # bundled, portable CPython
RPM_SCRIPTLETS = {"preun-stops", "postun-no-restart", "config-replaced", "post-starts-all"}
# The variants of the centos7 builds (on Debian, config-changes is conffile-prompt).
CENTOS7 = PORTABLE | RPM_SCRIPTLETS | set(VARIANTS)
OLDER_LINE = {"preun-stops", "postun-no-restart"}  # built into the line upgraded from

# Where each defect's broken value points; the tests look for exactly these.
FAKE_BUILD_ROOT = "/var/tmp/svh-buildroot"
MISSING_UNIT_EXEC = "/usr/local/bin/salt-minion"
DISTRO_DIST_PACKAGES = "/usr/lib/python3/dist-packages"
CLOBBERED_FILE = DISTRO_DIST_PACKAGES + "/tornado/__init__.py"
STALE_SALT_VERSION = "3008.0"


def check(name: str | None, portable: bool | None = None) -> str | None:
    """The defect's name, if it is known and (given whether the box's payload is portable)
    applies to the box. Every defect applies to either layout (builds.layout.SHAPES): each
    transform breaks the payload where that layout has it."""
    if name is not None and name not in EVERY:
        known = ", ".join(EVERY)
        raise BuildError(f"unknown defect {name!r} (known: {known}; see --list-defects)")
    if name in CENTOS7 and portable is False:
        raise BuildError(
            f"defect {name} breaks the centos7 packages: build it for centos7 "
            f"(harness build centos7 --defect {name})"
        )
    if name is not None and name not in CENTOS7 and portable:
        raise BuildError(
            f"defect {name} is a variant of the Debian packages: build it for a Debian box; "
            f"centos7's are {', '.join(sorted(CENTOS7))}"
        )
    return name


def _site(prefix: str, minor: str) -> str:
    return f"{prefix}/lib/python{minor}/site-packages"


RESET_OWNERSHIP = "chown -R root:root /etc/salt /var/cache/salt /var/log/salt"


def _post(package: str, line: Callable[[str, str], str]) -> Callable[[StagedPayload, str], None]:
    """A line(prefix, minor) at the end of PACKAGE's post-install script: the prefix is the
    payload's layout's (/opt/salt, /opt/saltstack/salt)."""

    def describe(payload: StagedPayload, minor: str) -> None:
        payload.packages[package].post_install.append(line(payload.shape.prefix, minor))

    return describe


def _extras_left_behind(payload: StagedPayload, minor: str) -> None:
    payload.packages[layout.COMMON].carries_extras = False


def _not_a_conffile(payload: StagedPayload, minor: str) -> None:
    minion = payload.packages["salt-minion"]
    minion.conffiles = [c for c in minion.conffiles if c != "/etc/salt/minion"]


def _prerelease_as_pep440(payload: StagedPayload, minor: str) -> None:
    box = catalog.load_box(payload.box)
    payload.prerelease_order = layout.prerelease_order(payload.salt_version, box, False)


def _restart_every_unit(payload: StagedPayload, minor: str) -> None:
    for package in payload.packages.values():
        package.post_install += [
            f"systemctl unmask {u}; systemctl enable {u}; systemctl restart {u} || true"
            for u in package.units
        ]


def _restart_without_waiting(payload: StagedPayload, minor: str) -> None:
    for package in payload.packages.values():
        package.restart_waits = False


def _no_init_scripts(payload: StagedPayload, minor: str) -> None:
    for package in payload.packages.values():
        package.init_scripts = False


def _depend_on_distro_tornado(payload: StagedPayload, minor: str) -> None:
    payload.packages[layout.COMMON].distro_depends.append("python3-tornado")


def _stop_before_upgrade(payload: StagedPayload, minor: str) -> None:
    for package in payload.packages.values():
        if package.units:
            package.pre_upgrade = [
                f"deb-systemd-invoke stop {' '.join(package.units)} >/dev/null || true"
            ]


def _in_spec(old: str, new: Callable[[str], str], units: tuple[str, ...] = layout.DAEMONS):
    """Each daemon's `old` line of the spec (with {unit}) replaced by new(unit)."""

    def spec(text: str) -> str:
        for unit in units:
            line = old.format(unit=unit)
            if line not in text:
                raise BuildError(f"the spec has no line {line!r} for this defect to break")
            text = text.replace(line, new(unit))
        return text

    return spec


def _rewrite(paths: Callable[[StagedPayload, Path], list[Path]], old: str, new: str):
    """OLD replaced by NEW in each of paths(payload, dest); {prefix} in either is the
    payload's prefix. A file without OLD fails the build: the defect would not be there."""

    def files(payload: StagedPayload, dest: Path) -> None:
        before, after = (t.format(prefix=payload.shape.prefix) for t in (old, new))
        for path in paths(payload, dest):
            text = path.read_text()
            if before not in text:
                raise BuildError(f"{path.name} has no {before!r} for this defect to break")
            path.write_text(text.replace(before, after))

    return files


def _minion_unit(payload: StagedPayload, dest: Path) -> list[Path]:
    return list((dest / "salt-minion").rglob("salt-minion.service"))


def _wrappers(payload: StagedPayload, dest: Path) -> list[Path]:
    """What /usr/bin/TOOL runs first: our wrappers, or the launchers at the onedir's top
    (/usr/bin/TOOL is a link to one there)."""
    shape = payload.shape
    if not shape.launchers:
        return sorted(dest.glob("*/usr/bin/*"))
    tools = {t for p in payload.packages.values() for t in p.tools}
    return sorted(dest / layout.COMMON / shape.tool_path(t).lstrip("/") for t in tools)


LOGROTATE_IN_A_DIRECTORY = layout.LOGROTATE + "/salt-common"


def _logrotate_in_a_directory(payload: StagedPayload, minor: str) -> None:
    common = payload.packages[layout.COMMON]
    common.conffiles = [
        LOGROTATE_IN_A_DIRECTORY if c == layout.LOGROTATE else c for c in common.conffiles
    ]


def _move_logrotate_into_a_directory(payload: StagedPayload, dest: Path) -> None:
    config = dest / layout.COMMON / layout.LOGROTATE.lstrip("/")
    text = config.read_text()
    config.unlink()
    moved = dest / layout.COMMON / LOGROTATE_IN_A_DIRECTORY.lstrip("/")
    moved.parent.mkdir()
    moved.write_text(text)
    moved.chmod(0o644)


def _export_libraries(payload: StagedPayload, dest: Path) -> None:
    conf = dest / layout.COMMON / "etc/ld.so.conf.d/salt.conf"
    conf.parent.mkdir(parents=True, exist_ok=True)
    conf.write_text(f"{payload.shape.prefix}/lib\n")
    conf.chmod(0o644)


def _versioned_minion_config(payload: StagedPayload, dest: Path) -> None:
    config = dest / "salt-minion/etc/salt/minion"
    config.write_text(
        f"# defaults of the Salt {payload.salt_version} package\n" + config.read_text()
    )


def _system_site(payload: StagedPayload, venv: str, minor: str) -> str:
    if payload.bundled_interpreter:  # its pyvenv.cfg home is itself: a .pth to the distro
        return f"echo {DISTRO_DIST_PACKAGES} > {_site(venv, minor)}/distro-site.pth"
    return (
        "sed -i 's/^include-system-site-packages = false/include-system-site-packages = true/' "
        f"{venv}/pyvenv.cfg"
    )


def _build_root_paths(payload: StagedPayload, venv: str, minor: str) -> str:
    prefix = payload.shape.prefix
    fake = FAKE_BUILD_ROOT + prefix
    return f"""
for f in {venv}/bin/*; do
    [ -f "$f" ] && [ ! -L "$f" ] || continue
    if head -n 1 "$f" | grep -q '^#!{prefix}/'; then sed -i '1s|^#!{prefix}/|#!{fake}/|' "$f"; fi
done
sed -i 's|{prefix}|{fake}|g' {venv}/bin/activate {venv}/bin/activate.csh \\
    {venv}/bin/activate.fish 2>/dev/null || true
if grep -q '^command' {venv}/pyvenv.cfg; then sed -i 's|{prefix}|{fake}|g' {venv}/pyvenv.cfg
else echo 'command = {fake}/bin/python3 -m venv {fake}' >> {venv}/pyvenv.cfg; fi
"""


def _plain_salt_pip(payload: StagedPayload, venv: str, minor: str) -> str:
    launcher = extras.PLAIN_LAUNCHER.replace(extras.PREFIX, payload.shape.prefix)
    return f"printf '%s' {shlex.quote(launcher)} > {venv}/bin/salt-pip"


def _teardown_warning(venv: str, minor: str) -> str:
    line = (
        "import atexit, sys; atexit.register(lambda: sys.stderr.write("
        "'Exception ignored in: <function Context.__del__>\\n'))"
    )
    return f"printf '%s\\n' {shlex.quote(line)} > {_site(venv, minor)}/salt-teardown.pth"


def _on_venv(command: Callable[[str, str], str]):
    def venv(payload: StagedPayload, venv: str, minor: str) -> str:
        return command(venv, minor)

    return venv


TRANSFORMS: dict[str, Transform] = {
    "system-site-packages": Transform(venv=_system_site),
    "buildroot-paths": Transform(venv=_build_root_paths),
    "ld-export": Transform(
        describe=_post(layout.COMMON, lambda prefix, minor: "ldconfig"),
        files=_export_libraries,
    ),
    "wrapper-pythonpath": Transform(
        files=_rewrite(
            _wrappers,
            "exec {prefix}/bin/",
            f"export PYTHONPATH={DISTRO_DIST_PACKAGES}\nexec {{prefix}}/bin/",
        )
    ),
    "missing-dep": Transform(BuildOptions(left_out=frozenset({"msgpack"}))),
    "unit-path": Transform(
        files=_rewrite(
            _minion_unit, "ExecStart=/usr/bin/", f"ExecStart={Path(MISSING_UNIT_EXEC).parent}/"
        )
    ),
    "conffile": Transform(describe=_not_a_conffile),
    "rc-above-final": Transform(describe=_prerelease_as_pep440),
    "distro-clobber": Transform(
        describe=_post(
            layout.COMMON,
            lambda prefix, minor: (
                f"if [ -f {CLOBBERED_FILE} ]; then "
                f"cp {_site(prefix, minor)}/tornado/__init__.py {CLOBBERED_FILE}; fi"
            ),
        )
    ),
    "service-state": Transform(describe=_restart_every_unit),
    "upgrade-stops": Transform(describe=_stop_before_upgrade),
    "world-writable": Transform(
        venv=_on_venv(lambda venv, minor: f"chmod o+w {_site(venv, minor)}/salt/modules")
    ),
    "root-only": Transform(
        venv=_on_venv(lambda venv, minor: f"chmod 0700 {_site(venv, minor)}/salt/utils")
    ),
    "runtime-writes": Transform(
        venv=_on_venv(
            lambda venv, minor: f"find {venv} -name __pycache__ -prune -exec rm -rf {{}} +"
        )
    ),
    "conffile-prompt": Transform(files=_versioned_minion_config),
    "extras-wiped": Transform(
        describe=_post(
            layout.COMMON, lambda prefix, minor: f"rm -rf {extras.extras_dir(minor, prefix)}/*"
        )
    ),
    "extras-stranded": Transform(describe=_extras_left_behind),
    "ownership-reset": Transform(
        describe=_post(layout.COMMON, lambda prefix, minor: RESET_OWNERSHIP)
    ),
    "version-stamp": Transform(
        venv=_on_venv(
            lambda venv, minor: (
                f"echo {STALE_SALT_VERSION} > {_site(venv, minor)}/salt/_version.txt"
            )
        )
    ),
    "distro-dep": Transform(describe=_depend_on_distro_tornado),
    "stop-signal": Transform(
        files=_rewrite(_minion_unit, "[Service]\n", "[Service]\nKillSignal=SIGUSR1\n")
    ),
    "restart-queued": Transform(describe=_restart_without_waiting),
    "orphans-on-stop": Transform(
        files=_rewrite(_minion_unit, "KillMode=mixed\n", "KillMode=process\n")
    ),
    "no-init-scripts": Transform(describe=_no_init_scripts),
    "missing-script": Transform(venv=_on_venv(lambda venv, minor: f"rm {venv}/bin/salt-cloud")),
    "no-libyaml": Transform(
        venv=_on_venv(lambda venv, minor: f"rm {_site(venv, minor)}/yaml/_yaml.*.so")
    ),
    "exit-noise": Transform(venv=_on_venv(_teardown_warning)),
    "python-unversioned": Transform(
        venv=_on_venv(lambda venv, minor: f"ln -sfn /usr/bin/python3 {venv}/bin/python{minor}")
    ),
    "slimmed": Transform(
        venv=_on_venv(
            lambda venv, minor: (
                f"rm {_site(venv, minor)}/salt/utils/cloud.py "
                f"{_site(venv, minor)}/salt/utils/__pycache__/cloud.*.pyc"
            )
        )
    ),
    "logrotate-dir": Transform(
        describe=_logrotate_in_a_directory, files=_move_logrotate_into_a_directory
    ),
    "salt-pip-target": Transform(venv=_plain_salt_pip),
    "stdlib-gap": Transform(
        venv=_on_venv(lambda venv, minor: f"rm {venv}/lib/python{minor}/lib-dynload/cmath.*.so")
    ),
    "preun-stops": Transform(
        spec=_in_spec(
            "%service_preun {unit}",
            lambda u: f"systemctl stop {u}.service >/dev/null 2>&1 || :\n%service_preun {u}",
        )
    ),
    "postun-no-restart": Transform(
        spec=_in_spec(
            "%service_postun {unit}", lambda u: "systemctl daemon-reload >/dev/null 2>&1 || :"
        )
    ),
    "config-replaced": Transform(
        files=_versioned_minion_config,
        spec=_in_spec(
            "%config(noreplace) %{{_sysconfdir}}/salt/minion\n",
            lambda u: "%config %{_sysconfdir}/salt/minion\n",
            units=("salt-minion",),
        ),
    ),
    "post-starts-all": Transform(
        spec=_in_spec(
            "%service_post {unit}",
            lambda u: f"systemctl unmask {u}.service; systemctl enable --now {u}.service || :",
        )
    ),
    "config-changes": Transform(files=_versioned_minion_config),
    "build-glibc": Transform(BuildOptions(target_glibc=False)),
    "system-libssl": Transform(BuildOptions(own_libssl=False)),
}


def transform(name: str | None) -> Transform:
    """How the named defect breaks the payload (the good build: no change)."""
    check(name)
    return TRANSFORMS[name] if name else Transform()


def listing() -> str:
    width = max(map(len, EVERY))
    boxes = {name: "centos7" if name in CENTOS7 else "debian" for name in EVERY}
    return "\n".join(f"{name:<{width}}  {boxes[name]:<7}  {text}" for name, text in EVERY.items())
