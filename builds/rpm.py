"""The RPM format step: rpmbuild on the build box packs the staged payload with
builds/rpm/salt.spec, and the RPMs come back to the host.

The build box is a Debian box with Debian's `rpm` package (it provides rpmbuild), so
the payload is packed where it was built: nothing is copied out and back in. RPMs go
to dist/BOX-rpm/ with their own manifest.json, so dist/BOX/ keeps the box's native
format only.
"""

from __future__ import annotations

import json
import shlex
import shutil
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from .errors import BuildError
from .inputs import sha256_file

RPM_DIR = Path(__file__).resolve().parent / "rpm"
SPEC = RPM_DIR / "salt.spec"
RPMLINTRC = RPM_DIR / "salt.rpmlintrc"
# Files of RPM_DIR that rpmbuild reads as sources (Source1...).
SPEC_SOURCES = ["salt-daemon.init"]
SUBPACKAGES = ["salt", "salt-minion", "salt-master", "salt-syndic", "salt-api", "salt-cloud", "salt-ssh"]
ARCH = "x86_64"
# xz level 2 with a thread per core: EL6 and newer read xz payloads (EL5 gets gzip in
# the spec), and a stronger level costs minutes for a few MB.
PAYLOAD_COMPRESSION = "w2T.xzdio"
REMOTE_TOP = "/var/tmp/salt-rpmbuild"


@dataclass(frozen=True)
class RpmBuild:
    rpms: list[Path]
    manifest: Path
    seconds: float


def rpm_dist_dir(dist_root: Path, box_name: str) -> Path:
    return dist_root / f"{box_name}-rpm"


def rpmbuild_argv(salt_version: str, release: str, topdir: str, staging_root: str,
                  system_python: str | None, extra_defines: dict[str, str] | None = None) -> list[str]:
    """The rpmbuild command line for the payload staged at `staging_root`."""
    defines = {
        "_topdir": topdir,
        "salt_version": salt_version,
        "salt_release": release,
        "staging_root": staging_root,
        "payload_compression": PAYLOAD_COMPRESSION,
    }
    if system_python:
        defines["system_python"] = system_python
    defines.update(extra_defines or {})
    # --nodeps: the build box's rpm database is empty (Debian installs with dpkg), so
    # every BuildRequires would look missing; the box's build tools come from apt.
    argv = ["rpmbuild", "-bb", "--nodeps", "--target", ARCH]
    for name, value in defines.items():
        argv += ["--define", f"{name} {value}"]
    return argv + [f"{topdir}/SPECS/salt.spec"]


def system_interpreter(machine, staging_root: str) -> str | None:
    """The interpreter /opt/salt/bin/python3 resolves to when it lies outside the payload
    (a virtualenv made from the box's python3), else None (a bundled interpreter)."""
    link = f"{staging_root}/opt/salt/bin/python3"
    target = machine.run(f"readlink -f {shlex.quote(link)}").stdout.strip()
    if not target or target.startswith(staging_root.rstrip("/") + "/"):
        return None
    return target


def _last_error(text: str) -> str:
    lines = [l.strip() for l in text.splitlines() if l.strip()]
    errors = [l for l in lines if l.startswith("error:") or "Bad exit status" in l]
    return (errors or lines or ["no output"])[-1][:240]


def build_rpms(machine, staged, box, salt_version: str, out_dir: Path, log: Path,
               release: str = "1", extra_defines: dict[str, str] | None = None) -> RpmBuild:
    """Pack `staged` (its .root on `machine`) into the RPMs of salt.spec, in `out_dir`.

    `out_dir` is replaced only once every RPM has arrived, so a failed build leaves no
    half-written set behind. `extra_defines` are more rpmbuild macros (an EL target's
    rhel/dist/_unitdir, say).
    """
    started = time.monotonic()
    root = str(staged.root).rstrip("/")
    top = REMOTE_TOP
    machine.run(f"rm -rf {top} && mkdir -p {top}/SOURCES {top}/SPECS {top}/BUILD {top}/RPMS")
    machine.put_file(SPEC, f"{top}/SPECS/salt.spec")
    for name in SPEC_SOURCES:
        machine.put_file(RPM_DIR / name, f"{top}/SOURCES/{name}")
    tarball = f"{top}/SOURCES/salt-payload-{salt_version}.tar"
    machine.run(f"tar -C {shlex.quote(root)} -cf {tarball} .")

    argv = rpmbuild_argv(salt_version, release, top, root, system_interpreter(machine, root), extra_defines)
    command = " ".join(shlex.quote(a) for a in argv)
    with open(log, "ab") as f:
        f.write(f"\n$ {command}\n".encode())
        f.flush()
        status = machine.run_streaming(command, f, f, timeout=1800)
    if status != 0:
        raise BuildError(f"rpmbuild on {machine.name} failed: "
                         f"{_last_error(log.read_text(errors='replace')[-20000:])}", log)

    listing = machine.run(f"cd {top}/RPMS && ls */*.rpm").stdout.split()
    out_dir.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{out_dir.name}-", dir=out_dir.parent))
    try:
        rpms = []
        for rel in listing:
            local = tmp / Path(rel).name
            machine.get_file(f"{top}/RPMS/{rel}", local)
            rpms.append(local)
        missing = set(SUBPACKAGES) - {package_name(p.name, salt_version) for p in rpms}
        if missing:
            raise BuildError(f"rpmbuild made no {', '.join(sorted(missing))} package", log)
        write_manifest(tmp / "manifest.json", rpms, box, salt_version, release)
        if out_dir.exists():
            shutil.rmtree(out_dir)
        tmp.rename(out_dir)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    final = sorted(out_dir / p.name for p in rpms)
    return RpmBuild(final, out_dir / "manifest.json", time.monotonic() - started)


def package_name(filename: str, salt_version: str) -> str:
    """'salt-minion-3008.4-1.x86_64.rpm' -> 'salt-minion'."""
    marker = f"-{salt_version}-"
    if marker not in filename:
        raise ValueError(f"{filename} is not an RPM of Salt {salt_version}")
    return filename.split(marker, 1)[0]


def write_manifest(path: Path, rpms: list[Path], box, salt_version: str, release: str):
    box_name = getattr(box, "name", str(box))
    entries = [{"name": package_name(p.name, salt_version), "file": p.name,
                "version": f"{salt_version}-{release}", "sha256": sha256_file(p),
                "size": p.stat().st_size} for p in sorted(rpms)]
    path.write_text(json.dumps({"format": "rpm", "built_on": box_name, "salt_version": salt_version,
                                "spec": str(SPEC.relative_to(RPM_DIR.parent.parent)),
                                "packages": entries}, indent=2) + "\n")
