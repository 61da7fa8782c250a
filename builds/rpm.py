"""RPM packages from a staged payload, with rpmbuild and builds/rpm/salt.spec on the build box.

The build box is a Debian box with Debian's `rpm` package (it provides rpmbuild), so the
payload is packed where it was built. The staged package trees are merged into one
tarball (the spec's Source0) and the spec's %files splits them again, as builds/layout.py
does. `harness build BOX --format rpm` writes the RPMs to dist/BOX-rpm/ (dist/BOX/ keeps
the box's native format).

The same spec serves EL targets: extra_defines carries an EL release's macros (see
rpm_targets.target_macros); EL5/6 build their own Python 2.7 and so need an EL5/6 box.
"""

from __future__ import annotations

import shlex
from dataclasses import dataclass
from pathlib import Path

from .errors import BuildError
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
RPMBUILD_TOP = "/var/tmp/svh-build/rpmbuild"


@dataclass
class RpmFile:
    name: str
    version: str
    arch: str
    file: str


def check(box, defect: str | None):
    """Refuse, before any box starts, what this format does not build."""
    if defect:
        raise BuildError(f"defect variants are built as DEBs only (--defect {defect}): "
                         "drop --format rpm, or build the defect without it")


def rpmbuild_argv(staged: StagedPayload, topdir: str, defines: dict[str, str] | None = None) -> list[str]:
    """The rpmbuild command line for a payload staged at staged.root."""
    macros = {
        "_topdir": topdir,
        "salt_version": staged.salt_version,
        "salt_release": staged.version.rsplit("-", 1)[1],
        "staging_root": staged.root,
        "payload_compression": PAYLOAD_COMPRESSION,
    }
    if staged.system_python:
        macros["system_python"] = staged.system_python
    macros.update(defines or {})
    # --nodeps: the build box's rpm database is empty (Debian installs with dpkg, not rpm),
    # so every BuildRequires would look missing; the box's build tools come from apt.
    argv = ["rpmbuild", "-bb", "--nodeps", "--target", ARCH]
    for name, value in macros.items():
        argv += ["--define", f"{name} {value}"]
    return argv + [f"{topdir}/SPECS/salt.spec"]


def merged_tar_command(staged: StagedPayload, tarball: str) -> str:
    """One tar of every staged package tree, merged at / (the spec's Source0)."""
    parts = " ".join(f"-C {shlex.quote(staged.package_root(name))} ." for name in staged.packages)
    return f"tar -cf {shlex.quote(tarball)} {parts}"


def build(runner: BoxRunner, staged: StagedPayload, out_dir: str,
          extra_defines: dict[str, str] | None = None) -> list[RpmFile]:
    """Build the spec's RPMs from `staged` into out_dir on the box."""
    check(None, staged.defect)
    rhel = (extra_defines or {}).get("rhel")
    if rhel and int(rhel) <= 6:
        raise BuildError(f"EL{rhel} RPMs build Python 2.7 from source on an EL{rhel} box; here the "
                         "EL5/6 branch of salt.spec is evaluated only (python -m builds.rpm_targets)")
    top = RPMBUILD_TOP
    runner.run(f"rm -rf {top} {out_dir} && mkdir -p {top}/SOURCES {top}/SPECS {top}/BUILD {out_dir}",
               "preparing the rpmbuild tree")
    runner.machine.put_file(SPEC, f"{top}/SPECS/salt.spec")
    for name in SPEC_SOURCES:
        runner.machine.put_file(RPM_DIR / name, f"{top}/SOURCES/{name}")
    runner.run(merged_tar_command(staged, f"{top}/SOURCES/salt-payload-{staged.salt_version}.tar"),
               "packing the staged package trees as the spec's Source0")
    runner.run(" ".join(shlex.quote(a) for a in rpmbuild_argv(staged, top, extra_defines)), "rpmbuild")
    runner.run(f"mv {top}/RPMS/*/*.rpm {out_dir}/", "collecting the RPMs")
    listing = runner.output(f"cd {out_dir} && for f in *.rpm; do "
                            "rpm -qp --qf '%{NAME} %{VERSION}-%{RELEASE} %{ARCH} ' \"$f\"; echo \"$f\"; done",
                            "reading the RPMs' names")
    built = [RpmFile(*line.split()) for line in listing.splitlines() if line.strip()]
    missing = set(staged.packages) - {r.name for r in built}
    if missing:
        raise BuildError(f"rpmbuild made no {', '.join(sorted(missing))} package", runner.log)
    return built
