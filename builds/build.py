"""Build a box's packages: a fresh build box (of the box itself, or of the catalog entry
its [build] section names: centos7 builds on debian12), the payload staged on it, packed by
the format module (builds.formats), fetched into dist/, checked against the box's ABI
ceiling (builds.abi_ceiling) and described by a manifest.

Output: dist/BOX/ (default Salt), dist/BOX-salt-VERSION/, dist/BOX-defect-NAME/,
dist/BOX-onedir/ (Salt's onedir layout: builds.layout.Shape). Packages are
written into a temp dir and renamed into place at the end, so a failed build never leaves a
half-written package set in dist/. Log: dist/logs/<output name>.build.log.
"""

from __future__ import annotations

import os
import shutil
import tempfile
import time
from pathlib import Path
from typing import Any

from harness import catalog, paths, progress, session, state
from harness.catalog import Box

from . import abi_ceiling, defects, layout, manifest, package_cache
from .errors import BuildError
from .formats import PackageFormat, format_module
from .locks import box_line, salt_lock
from .payload import StagedPayload, Venv, python_minor, stage
from .remote import BoxRunner

REMOTE_OUT = "/var/tmp/svh-build/out"


def output_name(
    box_name: str,
    salt_version: str | None = None,
    defect: str | None = None,
    foreign_format: str | None = None,
    layout: str | None = None,
) -> str:
    """foreign_format: a package format other than the box's own (rpm from a Debian box).
    The box's own Salt line (box_line) is named by the box alone."""
    other_line = salt_version if salt_version not in (None, box_line(box_name)) else None
    return paths.package_set_name(box_name, other_line, defect, foreign_format, layout)


def dist_root(dist_dir: Path | None = None) -> Path:
    return Path(dist_dir) if dist_dir else paths.dist_dir()


def output_dir(
    box_name: str,
    salt_version: str | None = None,
    defect: str | None = None,
    dist_dir: Path | None = None,
    foreign_format: str | None = None,
    layout: str | None = None,
) -> Path:
    name = output_name(box_name, salt_version, defect, foreign_format, layout)
    return dist_root(dist_dir) / name


def log_path(*args: Any, **kwargs: Any) -> Path:
    """The build log of output_dir(*args, **kwargs): dist/logs/<output name>.build.log."""
    out = output_dir(*args, **kwargs)
    return out.parent / "logs" / f"{out.name}.build.log"


def current_digest(
    box_name: str,
    *variant: str | None,
    package_format: str | None = None,
    layout: str | None = None,
) -> str:
    """The inputs digest a build of (box, salt version, defect) would have now."""
    salt_version, defect = [*variant, None, None][:2]
    salt_version = salt_version or box_line(box_name)
    box = catalog.load_box(box_name).for_salt(salt_version).for_layout(layout)
    return manifest.inputs_digest(box, salt_version, defect, package_format or box.package_format)


def build_packages(
    box_name: str,
    salt_version: str | None = None,
    defect: str | None = None,
    keep_box: bool = False,
    dist_dir: Path | None = None,
    package_format: str | None = None,
    force: bool = False,
    layout: str | None = None,
) -> Path:
    """Build BOX's packages into dist; return the output directory. Unless `force`, an
    output whose inputs are unchanged is reused (from dist/ or the package cache). LAYOUT:
    an install layout other than the catalog's (builds.layout.SHAPES)."""
    salt_version = salt_version or box_line(box_name)
    box = catalog.load_box(box_name).for_salt(salt_version).for_layout(layout)
    defects.check(defect, box.python.portable)
    salt_lock(salt_version, python_minor(box))  # an unknown version fails before any box starts
    package_format = package_format or box.package_format
    builder = format_module(package_format)
    builder.check(box, defect)
    foreign = package_format if package_format != box.package_format else None
    digest_ = manifest.inputs_digest(box, salt_version, defect, package_format)
    final = output_dir(box_name, salt_version, defect, dist_dir, foreign, box.build.layout)
    log = log_path(box_name, salt_version, defect, dist_dir, foreign, box.build.layout)
    # One build per output at a time, across processes: a second caller waits, then
    # finds the first one's packages current.
    with state.locked(log.with_suffix(".lock")):
        if not force and _reuse(box_name, final, digest_):
            return final
        variant = (salt_version, defect, foreign)
        return _build(box, variant, builder, (final, digest_), log, keep_box)


def _build(
    box: Box,
    variant: tuple[str, str | None, str | None],
    builder: PackageFormat,
    output: tuple[Path, str],
    log: Path,
    keep_box: bool,
) -> Path:
    """Build `variant` (Salt version, defect, foreign format) of `box` into `output`
    (the final directory, and the inputs digest its manifest records)."""
    final, digest_ = output
    started = time.monotonic()
    salt_version, defect, foreign = variant
    package_format = foreign or box.package_format
    dist_dir = final.parent
    log.write_text(
        f"build of {final.name}: Salt {salt_version}, defect {defect}, format {package_format}\n"
    )
    tmp = Path(tempfile.mkdtemp(prefix=f".building-{final.name}-", dir=final.parent))
    try:
        venv = _good_venv(box, salt_version, defect, dist_dir, foreign)
        on_box = (salt_version, defect, venv)
        staged, entries = _build_on_box(box, on_box, builder, tmp, log, keep_box)
        abi = _abi_gate(box, builder, tmp / entries[0]["file"], log, defect)
        made = manifest.make(staged, package_format, entries, digest_, time.monotonic() - started)
        manifest.write(tmp, made | {"abi": abi})
        package_cache.store(final.name, digest_, tmp)
        _replace(tmp, final)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return final


def _reuse(box_name: str, final: Path, digest_: str) -> bool:
    """True when `final` holds (or the package cache restored) a build of these inputs."""
    if package_cache.is_current(final, digest_):
        progress.note(f"{box_name}: {final} is up to date (same recipe, locks and box)")
        return True
    final.parent.mkdir(parents=True, exist_ok=True)
    cached = Path(tempfile.mkdtemp(prefix=f".cached-{final.name}-", dir=final.parent))
    try:
        if package_cache.restore(final.name, digest_, cached):
            _replace(cached, final)
            progress.note(
                f"{box_name}: {final} from the package cache (same recipe, locks and box)"
            )
            return True
    finally:
        shutil.rmtree(cached, ignore_errors=True)
    return False


def _good_venv(
    box: Box,
    salt_version: str,
    defect: str | None,
    dist_dir: Path | None,
    foreign: str | None,
) -> Venv | None:
    """The good build's /opt/salt where this build packs it unchanged: a variant that keeps
    the venv (from the good set of its own format), and the good set in another format
    (from the box's own good set: one venv, packed twice). None: stage one anew."""
    if defect and defects.transform(defect).keeps_the_venv:
        venv = venv_of_the_good_build(box, salt_version, dist_dir, foreign)
        progress.note(f"{box.name}: {defect} keeps the venv, taken from the good build's")
        return venv
    if foreign and not defect:
        venv = venv_of_the_good_build(box, salt_version, dist_dir)
        progress.note(f"{box.name}: the {foreign} packages pack its own format's venv")
        return venv
    return None


def venv_of_the_good_build(
    box: Box,
    salt_version: str,
    dist_dir: Path | None = None,
    package_format: str | None = None,
) -> Venv:
    """The good build's /opt/salt (built first, or taken as it is when current): its common
    package (the first), which a build box unpacks, and what its manifest says of it."""
    good = build_packages(
        box.name,
        salt_version,
        dist_dir=dist_dir,
        package_format=package_format,
        layout=box.build.layout,
    )
    builder = format_module(package_format or box.package_format)
    made = manifest.read(good)
    if made is None:
        raise BuildError(f"{good} has no manifest: build it again with harness build --force")
    return Venv(
        made["python_version"],
        made["system_python"],
        made["bundled"],
        package=good / made["packages"][0]["file"],
        unpack_command=builder.unpack_command,
    )


def _build_on_box(
    box: Box,
    variant: tuple[str, str | None, Venv | None],
    builder: PackageFormat,
    out: Path,
    log: Path,
    keep_box: bool,
) -> tuple[StagedPayload, list[dict]]:
    """Stage and pack on a fresh build box; the packages land in `out`, the common one
    first. `variant`: the Salt version, the defect and, where the good build's venv
    serves, that venv. Returns the staged payload and the packages' manifest entries."""
    salt_version, defect, venv = variant
    build_box = box.build.box or box.name
    instance_name = f"build-{box.name}-{os.getpid()}"
    progress.note(f"{box.name}: build box {instance_name} ({build_box}), log {log}")
    with session.box_instance(build_box, name=instance_name, keep=keep_box) as machine:
        runner = BoxRunner(machine, log)
        staged = stage(machine, box, salt_version, defect, runner, venv)
        with progress.step(f"{box.name}: building {box.package_format} packages"):
            built = builder.build(runner, staged, REMOTE_OUT, box)
        common = (layout.COMMON, staged.shape.common_deb)
        built.sort(key=lambda pkg: pkg.name not in common)
        entries = []
        with progress.step(f"{box.name}: fetching {len(built)} packages"):
            for pkg in built:
                runner.fetch(f"{REMOTE_OUT}/{pkg.file}", out / pkg.file, f"fetching {pkg.file}")
                entries.append(
                    manifest.package_entry(out / pkg.file, pkg.name, pkg.version, pkg.arch)
                )
    if keep_box:
        progress.note(
            f"build box kept: harness ssh {instance_name}; "
            f"remove it with harness down {instance_name}"
        )
    return staged, entries


def _abi_gate(
    box: Box, builder: PackageFormat, common: Path, log: Path, defect: str | None
) -> dict:
    """Every ELF of the common package within the box's ABI ceiling. A defect build passes
    with its findings recorded: the suites must catch it on a box."""
    with tempfile.TemporaryDirectory(prefix="svh-abi-") as tmp:
        builder.unpack(common, Path(tmp))
        prefix = layout.shape(box.build.layout).prefix
        report = abi_ceiling.scan(Path(tmp), box.glibc, box.python.portable, prefix)
    with open(log, "a") as f:
        f.write(f"\n### ABI ceiling (glibc {box.glibc}): {report.summary()}\n")
        f.writelines(f"{finding.kind}: {finding.message}\n" for finding in report.findings)
    if report.findings and not defect:
        first = report.findings[0].message
        raise BuildError(
            f"{len(report.findings)} file(s) of {common.name} break the ABI ceiling of "
            f"{box.name} (glibc {box.glibc}), e.g. {first}",
            log,
        )
    return {
        "glibc_ceiling": box.glibc,
        "elf_files": report.files,
        "max_glibc": report.max_glibc,
        "findings": [f"{finding.kind}: {finding.message}" for finding in report.findings],
    }


def _replace(new: Path, final: Path):
    """Swap the finished directory into place; the old one goes only once the new one is there."""
    new.chmod(0o755)
    old = final.with_name(f".old-{final.name}-{os.getpid()}")
    if final.exists():
        final.rename(old)
    new.rename(final)
    shutil.rmtree(old, ignore_errors=True)
