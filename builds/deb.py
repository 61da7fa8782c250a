"""DEB packages from a staged payload, with dpkg-deb on the build box.

Maintainer scripts follow what dh_installsystemd and dh_installinit generate for Debian:
units are enabled (unless the admin disabled them) and started on install, restarted on
upgrade before the package manager returns, stopped on remove, masked on remove and forgotten
on purge; purge also removes run-time state. Each daemon also has an LSB init script in
/etc/init.d, as Salt's DEBs do, for boxes that boot with sysvinit (update-rc.d links it).
`salt` depends on what dpkg-shlibdeps finds for the ELF files in /opt/salt (libraries
bundled inside /opt/salt are its own and need nothing) plus, for a venv on the system
Python, the python3.X package owning that interpreter.
"""

from __future__ import annotations

import os
import shlex
import textwrap
from pathlib import Path

from harness.catalog import Box
from harness.runner import capture

from . import layout
from .errors import BuildError
from .formats import PackageFile
from .inputs import cache_root
from .locks import digest
from .payload import StagedPackage, StagedPayload
from .remote import BoxRunner

MAINTAINER = "salt-venv-harness <salt-venv-harness@localhost>"
HOMEPAGE = "https://saltproject.io/"
HELPER_DEPENDS = "init-system-helpers (>= 1.54~)"


def compression(box: Box) -> list[str]:
    """zstd where the release's dpkg reads it (1.21.18 and later: bookworm on): for the venv
    of debian12 it builds in 1.0 s instead of 8.4 s (xz -1) and unpacks in 0.9 s instead of
    1.9 s, for 55 MB instead of 49 MB. Bullseye's dpkg reads xz at most (xz -6 would take
    ~50 s for 42 MB)."""
    return {"zstd": ["-Zzstd", "-z3"], "xz": ["-Zxz", "-z1"]}[box.deb_compression]


def check(box: Box, defect: str | None) -> None:
    """Every box's defect variants build as DEBs; nothing to refuse."""


def recipe() -> list[Path]:
    return []  # deb.py itself counts for every build, as the rest of builds/*.py


def unpack(package: Path, dest: Path) -> None:
    done = capture(["dpkg-deb", "-x", str(package), str(dest)])
    if done.returncode != 0:
        raise BuildError(f"dpkg-deb -x {package.name}: {done.stderr.strip()}")


def unpack_command(package: str, dest: str) -> str:
    return f"dpkg-deb -x {shlex.quote(package)} {shlex.quote(dest)}"


def arch_of(pkg: StagedPackage) -> str:
    # Only the common package holds compiled code; role packages are scripts and units.
    return "amd64" if pkg.name == layout.COMMON else "all"


def package_name(role: str, shape: layout.Shape) -> str:
    """The DEB that plays ROLE (a SubPackage name): Salt's onedir names its common one
    salt-common."""
    return shape.common_deb if role == layout.COMMON else role


def control(
    pkg: StagedPackage, version: str, depends: list[str], installed_kb: int, name: str = ""
) -> str:
    """NAME: the package's name where the layout names it otherwise than its role."""
    summary = pkg.summary
    return (
        f"Package: {name or pkg.name}\nVersion: {version}\nArchitecture: {arch_of(pkg)}\n"
        f"Maintainer: {MAINTAINER}\nInstalled-Size: {installed_kb}\n"
        + (f"Depends: {', '.join(depends)}\n" if depends else "")
        + f"Section: admin\nPriority: optional\nHomepage: {HOMEPAGE}\n"
        f"Description: {summary}\n"
        + "".join(f" {line}\n" for line in textwrap.wrap(layout.DESCRIPTION, 78))
    )


def depends_of(
    pkg: StagedPackage, version: str, common_depends: list[str], shape: layout.Shape = layout.VENV
) -> list[str]:
    deps = [f"{package_name(role, shape)} (= {version})" for role in pkg.requires]
    if pkg.units:
        deps.append(HELPER_DEPENDS)
    if pkg.name == layout.COMMON:
        deps += common_depends
    return deps + pkg.distro_depends


INIT_SCRIPT = layout.FILES_DIR / "sysv" / "salt-daemon.lsb"

# Is this script run, however deep, by a process of one of our units (a Salt job)? Its
# ancestors' control groups say so; Salt's pkg module may run apt in a scope of its own.
STARTED_BY_SALT = [
    "started_by_salt() {",
    "    pid=$$",
    '    while [ "${pid:-1}" -gt 1 ]; do',
    "        grep -q '/salt-[a-z]*[.]service$' \"/proc/$pid/cgroup\" 2>/dev/null && return 0",
    "        pid=$(sed 's/.*) //' \"/proc/$pid/stat\" 2>/dev/null | cut -d' ' -f2)",
    "    done",
    "    return 1",
    "}",
]


def daemons(pkg: StagedPackage) -> list[str]:
    return [unit.removesuffix(".service") for unit in pkg.units]


def init_scripts(pkg: StagedPackage, shape: layout.Shape) -> dict[str, str]:
    """/etc/init.d/DAEMON of each of PKG's daemons, as Salt's DEBs carry them (under systemd,
    /lib/lsb/init-functions hands every action to the unit)."""
    if not pkg.init_scripts:
        return {}
    template = INIT_SCRIPT.read_text()
    return {
        f"/etc/init.d/{daemon}": template.replace("@DAEMON@", daemon)
        .replace("@SUMMARY@", pkg.summary)
        .replace("@PREFIX@", shape.prefix)
        for daemon in daemons(pkg)
    }


def each_init_script(pkg: StagedPackage, *body: str) -> list[str]:
    """Shell lines running BODY (with $daemon) for each of PKG's daemons whose script is
    there, indented one level."""
    return [
        f"    for daemon in {' '.join(daemons(pkg))}; do",
        '        if [ -x "/etc/init.d/$daemon" ]; then',
        *(f"            {line}" for line in body),
        "        fi",
        "    done",
    ]


def init_script_links(pkg: StagedPackage) -> list[str]:
    """What dh_installinit adds to postinst: the rc links, and the action under sysvinit
    (--skip-systemd-native: under systemd the unit's lines above did it)."""
    if not (pkg.units and pkg.init_scripts):
        return []
    return each_init_script(
        pkg,
        'update-rc.d "$daemon" defaults >/dev/null || true',
        'if [ -z "$2" ]; then action=start; else action=restart; fi',
        'invoke-rc.d --skip-systemd-native "$daemon" $action || true',
    )


def postinst(pkg: StagedPackage, shape: layout.Shape = layout.VENV) -> str | None:
    if not (pkg.units or pkg.post_install or pkg.carries_extras):
        return None
    units = " ".join(pkg.units)
    lines = [
        "#!/bin/sh",
        f"# {package_name(pkg.name, shape)}: "
        + (
            "enable and start its units on install, restart them on upgrade."
            if pkg.units
            else "after an install, upgrade or downgrade."
        ),
        "set -e",
        *(STARTED_BY_SALT if pkg.units else []),
        'case "$1" in',
        "configure|abort-upgrade|abort-deconfigure|abort-remove)",
    ]
    if pkg.units:
        lines += [
            f"    for unit in {units}; do",
            "        # Lift the mask that a remove set; enable unless the admin disabled it.",
            '        deb-systemd-helper unmask "$unit" >/dev/null || true',
            '        if deb-systemd-helper --quiet was-enabled "$unit"; then',
            '            deb-systemd-helper enable "$unit" >/dev/null || true',
            "        else",
            '            deb-systemd-helper update-state "$unit" >/dev/null || true',
            "        fi",
            "    done",
            "    if [ -d /run/systemd/system ]; then",
            "        systemctl --system daemon-reload >/dev/null || true",
            '        if [ -z "$2" ]; then',
            f"            deb-systemd-invoke start {units} >/dev/null || true",
            "        else",
            "            # An upgrade restarts what runs and starts nothing the admin stopped,",
            "            # done when the package manager returns. Not so under a Salt job (a",
            "            # minion upgrading itself): the daemon's stop waits for that job, which",
            "            # waits for this script (salt#69656). policy-rc.d may forbid it, as",
            "            # deb-systemd-invoke would honour.",
            "            wait=; if started_by_salt; then wait=--no-block; fi"
            if pkg.restart_waits
            else "            wait=--no-block",
            f"            for unit in {units}; do",
            '                rc=0; /usr/sbin/policy-rc.d "$unit" try-restart >/dev/null 2>&1 '
            "|| rc=$?",
            '                [ "$rc" = 101 ] || systemctl $wait try-restart "$unit" || true',
            "            done",
            "        fi",
            "    fi",
            *init_script_links(pkg),
        ]
    if pkg.carries_extras:
        lines.append(f"    {shape.prefix}/bin/python3 {shape.carry_extras} || true")
    lines += [f"    {line}" for line in pkg.post_install]
    lines += ["    ;;", "esac", "exit 0", ""]
    return "\n".join(lines)


def preinst(pkg: StagedPackage) -> str | None:
    if not (pkg.pre_upgrade or pkg.pre_install):
        return None
    lines = ["#!/bin/sh", "set -e"]
    if pkg.pre_install:
        lines += ['case "$1" in', "install|upgrade)"]
        lines += [f"    {line}" for line in pkg.pre_install]
        lines += ["    ;;", "esac"]
    if pkg.pre_upgrade:
        lines += ['if [ "$1" = upgrade ]; then']
        lines += [f"    {line}" for line in pkg.pre_upgrade]
        lines += ["fi"]
    return "\n".join([*lines, "exit 0", ""])


def prerm(pkg: StagedPackage) -> str | None:
    if not pkg.units:
        return None
    return "\n".join(
        [
            "#!/bin/sh",
            f"# {pkg.name}: stop its units when it is removed"
            " (an upgrade restarts them in postinst).",
            "set -e",
            'if [ -d /run/systemd/system ] && [ "$1" = remove ]; then',
            f"    deb-systemd-invoke stop {' '.join(pkg.units)} >/dev/null || true",
            "fi",
            'if [ "$1" = remove ]; then',
            *each_init_script(pkg, 'invoke-rc.d --skip-systemd-native "$daemon" stop || true'),
            "fi",
            "exit 0",
            "",
        ]
    )


def postrm(pkg: StagedPackage, shape: layout.Shape = layout.VENV) -> str | None:
    on_remove = []
    on_purge = []
    if pkg.units:
        units = " ".join(pkg.units)
        on_remove.append(
            "[ -x /usr/bin/deb-systemd-helper ] && "
            f"deb-systemd-helper mask {units} >/dev/null || true"
        )
        on_purge += [
            "if [ -x /usr/bin/deb-systemd-helper ]; then",
            f"    deb-systemd-helper purge {units} >/dev/null || true",
            f"    deb-systemd-helper unmask {units} >/dev/null || true",
            "fi",
            *(f"update-rc.d {daemon} remove >/dev/null || true" for daemon in daemons(pkg)),
        ]
    if pkg.name == layout.COMMON:
        # Bytecode Salt compiles at run time is not in the package: take the prefix away whole.
        on_remove.append(f"rm -rf {shape.prefix}")
    if pkg.purge:
        on_purge.append("rm -rf " + " ".join(shlex.quote(p) for p in pkg.purge))
    if not (on_remove or on_purge):
        return None
    lines = [
        "#!/bin/sh",
        f"# {pkg.name}: forget its units on remove; purge also drops run-time state.",
        "set -e",
        'case "$1" in',
    ]
    if on_remove:
        lines += [
            "remove)",
            *[f"    {line}" for line in on_remove],
            "    ;;",
            "esac",
            'case "$1" in',
        ]
    if on_purge:
        lines += ["purge)", *[f"    {line}" for line in on_purge], "    ;;"]
    lines += ["esac"]
    if pkg.units:
        lines += [
            "if [ -d /run/systemd/system ]; then"
            " systemctl --system daemon-reload >/dev/null || true; fi"
        ]
    lines += ["exit 0", ""]
    return "\n".join(lines)


def deb_name(pkg: StagedPackage, version: str, name: str = "") -> str:
    return f"{name or pkg.name}_{version}_{arch_of(pkg)}.deb"


ELF_FILES = r"""
set -e
work={work}
rm -rf $work && mkdir -p $work/debian && cd $work
printf 'Source: salt\n\nPackage: salt\nArchitecture: amd64\n' > debian/control
find {root} -type f \( -name '*.so' -o -name '*.so.*' -o -perm -u+x \) -print0 |
    xargs -0 -r sh -c 'for f; do
        if [ "$(head -c 4 "$f" | od -An -c | tr -d " ")" = "177ELF" ]; then echo "$f"; fi
    done' sh | sort > elf.txt
# What dpkg-shlibdeps reads: these files, and the shlibs and symbols of the box's packages.
{{ tr '\n' '\0' < elf.txt | xargs -0 -r sha256sum; dpkg-query -W; }} | sha256sum | cut -c1-32
"""
SHLIBDEPS = r"""
cd {work}
libdirs=$(sed 's|/[^/]*$||' elf.txt | sort -u | sed 's/^/-l/')
dpkg-shlibdeps -O --ignore-missing-info --warnings=0 $libdirs \
    $(sed 's/^/-e/' elf.txt) 2>shlibdeps.err \
    | sed -n 's/^shlibs:Depends=//p' > depends.txt || {{ cat shlibdeps.err; exit 1; }}
cat shlibdeps.err
"""


def shared_library_depends(runner: BoxRunner, root: str) -> str:
    """dpkg-shlibdeps' Depends for the ELF files under `root`. Cached on the host by what it
    reads: a defect variant or the older line that packs the same ELF files on the same box
    skips it (2 to 15 s a build, more under load)."""
    work = "/var/tmp/svh-build/shlibdeps"
    key = runner.output(ELF_FILES.format(work=work, root=root), "listing the ELF files").strip()
    cached = cache_root() / "shlibdeps" / f"{digest(key, ELF_FILES, SHLIBDEPS)[:20]}.txt"
    if cached.is_file():
        runner.note(f"dpkg-shlibdeps: these ELF files on this box were read before: {cached}")
        return cached.read_text()
    runner.run(SHLIBDEPS.format(work=work), "dpkg-shlibdeps on the ELF files in /opt/salt")
    text = runner.output(f"cat {work}/depends.txt", "reading the shared-library dependencies")
    cached.parent.mkdir(parents=True, exist_ok=True)
    partial = cached.with_suffix(f".{os.getpid()}")
    partial.write_text(text)
    partial.replace(cached)  # whole or absent, for builds running side by side
    return text


def common_depends(runner: BoxRunner, staged: StagedPayload) -> list[str]:
    text = shared_library_depends(runner, staged.package_root(layout.COMMON)).strip()
    deps = [d.strip() for d in text.split(",") if d.strip()]
    if staged.system_python:
        owner = runner.output(
            f"dpkg -S $(readlink -f {staged.system_python})",
            f"finding the package of {staged.system_python}",
        ).split(":")[0]
        # python3.X-minimal only has the interpreter; python3.X brings the full stdlib.
        deps.append(owner.removesuffix("-minimal"))
    return deps


def _named_after(runner: BoxRunner, tree: str, pkg: StagedPackage, deb_package: str) -> list[str]:
    """PKG's conffiles in the DEB called DEB_PACKAGE: the logrotate config staged under the
    role's name moves to the package's (salt-common's in Salt's onedir layout)."""
    staged, named = layout.logrotate_of(pkg.name), layout.logrotate_of(deb_package)
    if staged == named or staged not in pkg.conffiles:
        return pkg.conffiles
    runner.run(f"mv {tree}{staged} {tree}{named}", f"naming the logrotate config {named}")
    return [named if c == staged else c for c in pkg.conffiles]


def _write_init_scripts(
    runner: BoxRunner, tree: str, pkg: StagedPackage, shape: layout.Shape
) -> list[str]:
    """PKG's init scripts written into its DEB tree; their paths (conffiles, as dh makes
    every file under /etc)."""
    scripts = init_scripts(pkg, shape)
    if scripts:
        runner.run(f"mkdir -p {tree}/etc/init.d", f"preparing {pkg.name}'s init scripts")
    for path, script in scripts.items():
        runner.machine.write_text(f"{tree}{path}", script, 0o755)
    return list(scripts)


def build(runner: BoxRunner, staged: StagedPayload, out_dir: str, box: Box) -> list[PackageFile]:
    """Build one .deb per staged package into out_dir on the box."""
    shared = common_depends(runner, staged)
    debroot = "/var/tmp/svh-build/deb"
    runner.run(
        f"rm -rf {debroot} {out_dir} && mkdir -p {debroot} {out_dir}", "preparing the DEB trees"
    )
    built = []
    shape = staged.shape
    for pkg in staged.packages.values():
        deb_package = package_name(pkg.name, shape)
        tree = f"{debroot}/{pkg.name}"
        # Hard links: the DEBIAN directory must not land in the format-neutral stage.
        runner.run(
            f"cp -al {staged.package_root(pkg.name)} {tree} && mkdir -m 755 {tree}/DEBIAN",
            f"preparing {pkg.name}'s tree",
        )
        conffiles = _named_after(runner, tree, pkg, deb_package)
        conffiles += _write_init_scripts(runner, tree, pkg, shape)
        kb = int(runner.output(f"du -sk {tree} | cut -f1", f"measuring {pkg.name}").strip())
        depends = depends_of(pkg, staged.version, shared, shape)
        files = {
            "control": control(pkg, staged.version, depends, kb, deb_package),
            "conffiles": "".join(c + "\n" for c in conffiles) or None,
            "preinst": preinst(pkg),
            "postinst": postinst(pkg, shape),
            "prerm": prerm(pkg),
            "postrm": postrm(pkg, shape),
        }
        for name, text in files.items():
            if text:
                mode = 0o644 if name in ("control", "conffiles") else 0o755
                runner.machine.write_text(f"{tree}/DEBIAN/{name}", text, mode)
        deb = deb_name(pkg, staged.version, deb_package)
        runner.run(
            f"dpkg-deb --root-owner-group {' '.join(compression(box))} --build {tree} "
            f"{out_dir}/{deb}",
            f"dpkg-deb --build {pkg.name}",
        )
        built.append(PackageFile(deb_package, staged.version, arch_of(pkg), deb))
    return built
