"""RPM packages from a staged payload, with rpmbuild and builds/rpm/salt.spec on the build box.

The build box is a Debian box with Debian's `rpm` package (it provides rpmbuild), so the
payload is packed where it was built. The staged package trees are merged into one
tarball (the spec's Source0) and the spec's %files splits them again, as builds/layout.py
does. `harness build BOX --format rpm` writes the RPMs to dist/BOX-rpm/ (dist/BOX/ keeps
the box's native format).

The same spec serves EL targets: extra_defines carries an EL release's macros (see
rpm_targets.target_macros). With EL5/6's macros the spec writes SysV init scripts; their
payload is portable (CPython built for the release's glibc, builds/portable.py).
"""

from __future__ import annotations

import shlex
import subprocess
from pathlib import Path

from harness.catalog import Box
from harness.runner import capture

from . import defects, layout
from .errors import BuildError
from .formats import PackageFile
from .payload import StagedPayload
from .remote import BoxRunner

RPM_DIR = Path(__file__).resolve().parent / "rpm"
SPEC = RPM_DIR / "salt.spec"
RPMLINTRC = RPM_DIR / "salt.rpmlintrc"
SPEC_SOURCES = ["salt-daemon.init"]  # files of RPM_DIR that the spec reads as sources
ARCH = "x86_64"
# xz level 2, a thread per core: EL6 and newer read xz payloads (the spec gives EL5
# gzip); zstd would be faster but EL7's rpm 4.11 cannot read it. See bench/bench_rpm.py.
PAYLOAD_COMPRESSION = "w2T.xzdio"
# A defect variant is installed by the suites and thrown away: gzip -1, which every release
# reads, in a tenth of xz's time (its 265 MB payload: 3 CPU-seconds against 30).
VARIANT_COMPRESSION = "w1.gzdio"
RPMBUILD_TOP = "/var/tmp/svh-build/rpmbuild"


def target_macros(release: str) -> dict[str, str]:
    """The macros an EL release's rpm and redhat-rpm-config define that the spec reads."""
    macros = {"rhel": release, "dist": f".el{release}", "_initrddir": "/etc/rc.d/init.d"}
    if int(release) >= 7:
        macros["_unitdir"] = "/usr/lib/systemd/system"
    return macros


def check(box: Box, defect: str | None) -> None:
    """Refuse, before any box starts, what this format does not build: the classic defect
    variants are built as DEBs; RPM boxes build the defects of portable payloads."""
    if defect and defect not in defects.CENTOS7:
        raise BuildError(
            f"defect variants are built as DEBs only (--defect {defect}): "
            "drop --format rpm, or build the defect without it"
        )


def recipe() -> list[Path]:
    """The spec and its sources, and the modules that read them."""
    here = Path(__file__).resolve().parent
    return [*here.glob("rpm*.py"), *(p for p in RPM_DIR.rglob("*") if p.is_file())]


def unpack(package: Path, dest: Path) -> None:
    """rpm2cpio | cpio, as an RPM-less root gets it too: no database, no scriptlets."""
    dest.mkdir(parents=True, exist_ok=True)
    with subprocess.Popen(["rpm2cpio", str(package)], stdout=subprocess.PIPE) as rpm2cpio:
        done = capture(
            ["cpio", "-idm", "--quiet", "--no-absolute-filenames"], cwd=dest, stdin=rpm2cpio.stdout
        )
    if rpm2cpio.returncode or done.returncode:
        raise BuildError(f"rpm2cpio | cpio of {package.name}: {done.stderr.strip()}")


def unpack_command(package: str, dest: str) -> str:
    """rpm2archive, which the build boxes' rpm has (cpio they lack)."""
    d = shlex.quote(dest)
    return f"mkdir -p {d} && rpm2archive - < {shlex.quote(package)} | tar -xzf - -C {d}"


def rpmbuild_argv(
    staged: StagedPayload, topdir: str, defines: dict[str, str] | None = None
) -> list[str]:
    """The rpmbuild command line for a payload staged at staged.root."""
    macros = {
        "_topdir": topdir,
        "salt_version": staged.salt_version,
        "salt_package_version": staged.version.rsplit("-", 1)[0],
        "salt_release": staged.version.rsplit("-", 1)[1],
        "staging_root": staged.root,
        "payload_compression": VARIANT_COMPRESSION if staged.defect else PAYLOAD_COMPRESSION,
    }
    if staged.system_python:
        macros["system_python"] = staged.system_python
    if staged.portable:
        macros["portable"] = "1"
    common = staged.packages.get(layout.COMMON)
    if common and common.carries_extras:
        macros["carry_extras"] = staged.shape.carry_extras
    if common and layout.SALT_PIP not in common.tools:
        macros["without_salt_pip"] = "1"
    macros |= layout_macros(staged)
    macros.update(defines or {})
    # --nodeps: the build box's rpm database is empty (Debian installs with dpkg, not rpm),
    # so every BuildRequires would look missing; the box's build tools come from apt.
    argv = ["rpmbuild", "-bb", "--nodeps", "--target", ARCH]
    for name, value in macros.items():
        argv += ["--define", f"{name} {value}"]
    return [*argv, f"{topdir}/SPECS/salt.spec"]


def layout_macros(staged: StagedPayload) -> dict[str, str]:
    """The spec's macros for an install layout other than ours (builds/layout.py Shape)."""
    shape = staged.shape
    if shape == layout.VENV:
        return {}
    macros = {"salt_prefix": shape.prefix}
    common = staged.packages.get(layout.COMMON)
    if common and common.pre_install:
        macros["salt_pre_install"] = "; ".join(common.pre_install)
    mode, group = layout.private_access(shape)
    return macros | {"pki_mode": f"{mode:04o}", "pki_group": group}


def merged_tar_command(staged: StagedPayload, tarball: str) -> str:
    """One tar of every staged package tree, merged at / (the spec's Source0)."""
    parts = " ".join(f"-C {shlex.quote(staged.package_root(name))} ." for name in staged.packages)
    return f"tar -cf {shlex.quote(tarball)} {parts}"


def _prepare_tree(runner: BoxRunner, staged: StagedPayload, out_dir: str) -> str:
    """The rpmbuild tree on the build box, with the spec and its sources; returns its top."""
    build_box = runner.machine.spec.name
    if not runner.output("command -v rpmbuild || true", "looking for rpmbuild").strip():
        raise BuildError(
            f'rpmbuild is missing on the {build_box} build box: add "rpm" to '
            f"build_packages in boxes/{build_box}.toml",
            runner.log,
        )
    top = RPMBUILD_TOP
    runner.run(
        f"rm -rf {top} {out_dir} && mkdir -p {top}/SOURCES {top}/SPECS {top}/BUILD {out_dir}",
        "preparing the rpmbuild tree",
    )
    spec = defects.transform(staged.defect).spec(SPEC.read_text())
    runner.machine.write_text(f"{top}/SPECS/salt.spec", spec)
    for name in SPEC_SOURCES:
        runner.machine.put_file(RPM_DIR / name, f"{top}/SOURCES/{name}")
    runner.run(
        merged_tar_command(staged, f"{top}/SOURCES/salt-payload-{staged.salt_version}.tar"),
        "packing the staged package trees as the spec's Source0",
    )
    return top


def build(
    runner: BoxRunner,
    staged: StagedPayload,
    out_dir: str,
    box: Box,
    extra_defines: dict[str, str] | None = None,
) -> list[PackageFile]:
    """Build the spec's RPMs from `staged` into out_dir on the box.

    An EL release's payload must be portable (built for the release's glibc); for EL5/6
    macros (rhel <= 6) the staged trees' units are replaced by init scripts."""
    check(box, staged.defect)
    if extra_defines is None and box.rpm_target:  # the box's own EL release
        extra_defines = target_macros(box.rpm_target)
    rhel = (extra_defines or {}).get("rhel")
    if rhel and not staged.portable:
        raise BuildError(
            f"EL{rhel} RPMs need a portable payload (CPython built for the release's glibc, "
            f"as `harness build centos{rhel}` makes it), not {staged.box}'s venv"
        )
    top = _prepare_tree(runner, staged, out_dir)
    runner.run(
        " ".join(shlex.quote(a) for a in rpmbuild_argv(staged, top, extra_defines)), "rpmbuild"
    )
    runner.run(f"mv {top}/RPMS/*/*.rpm {out_dir}/", "collecting the RPMs")
    listing = runner.output(
        f"cd {out_dir} && for f in *.rpm; do "
        'rpm -qp --qf \'%{NAME} %{VERSION}-%{RELEASE} %{ARCH} \' "$f"; echo "$f"; done',
        "reading the RPMs' names",
    )
    built = [PackageFile(*line.split()) for line in listing.splitlines() if line.strip()]
    missing = set(staged.packages) - {r.name for r in built}
    if missing:
        raise BuildError(f"rpmbuild made no {', '.join(sorted(missing))} package", runner.log)
    return built
