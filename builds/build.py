"""Build a box's packages: a fresh build instance of the box, the payload staged on it,
packed by the format module, fetched into dist/ with a manifest.

Output: dist/BOX/ (default Salt), dist/BOX-salt-VERSION/, dist/BOX-defect-NAME/. Packages are
written into a temp dir and renamed into place at the end, so a failed build never leaves a
half-written package set in dist/. Log: dist/logs/<output name>.build.log.

A format module (builds.deb, builds.rpm) offers build(runner, staged, remote_out_dir) ->
a list of objects with name, version, arch and file (a file name in remote_out_dir).
"""

from __future__ import annotations

import importlib
import os
import shutil
import tempfile
import time
from pathlib import Path

from harness import catalog, progress, session
from harness.paths import DIST_DIR

from . import defects, manifest, package_cache
from .errors import BuildError
from .locks import DEFAULT_SALT, salt_lock
from .payload import python_minor, stage
from .remote import BoxRunner

REMOTE_OUT = "/var/tmp/svh-build/out"


def output_name(
    box_name: str,
    salt_version: str = DEFAULT_SALT,
    defect: str | None = None,
    foreign_format: str | None = None,
) -> str:
    """foreign_format: a package format other than the box's own (rpm from a Debian box)."""
    name = box_name
    if foreign_format:
        name += f"-{foreign_format}"
    if salt_version != DEFAULT_SALT:
        name += f"-salt-{salt_version}"
    if defect:
        name += f"-defect-{defect}"
    return name


def dist_root(dist_dir: Path | None = None) -> Path:
    """dist/ of the checkout, or $SVH_DIST_DIR (benchmarks build elsewhere)."""
    return Path(dist_dir or os.environ.get("SVH_DIST_DIR") or DIST_DIR)


def output_dir(
    box_name: str,
    salt_version: str = DEFAULT_SALT,
    defect: str | None = None,
    dist_dir: Path | None = None,
    foreign_format: str | None = None,
) -> Path:
    return dist_root(dist_dir) / output_name(box_name, salt_version, defect, foreign_format)


def log_path(
    box_name: str,
    salt_version: str = DEFAULT_SALT,
    defect: str | None = None,
    dist_dir: Path | None = None,
    foreign_format: str | None = None,
) -> Path:
    name = output_name(box_name, salt_version, defect, foreign_format)
    return dist_root(dist_dir) / "logs" / f"{name}.build.log"


def format_module(package_format: str):
    try:
        return importlib.import_module(f"builds.{package_format}")
    except ImportError:
        raise BuildError(
            f"no builder for package format {package_format!r} "
            f"(expected module builds.{package_format})"
        ) from None


def current_digest(
    box_name: str,
    salt_version: str = DEFAULT_SALT,
    defect: str | None = None,
    package_format: str | None = None,
) -> str:
    box = catalog.load_box(box_name)
    return manifest.inputs_digest(box, salt_version, defect, package_format or box.package_format)


def build_packages(
    box_name: str,
    salt_version: str = DEFAULT_SALT,
    defect: str | None = None,
    keep_box: bool = False,
    dist_dir: Path | None = None,
    package_format: str | None = None,
    force: bool = False,
) -> Path:
    """Build BOX's packages into dist; return the output directory. Unless `force`, an
    output whose inputs are unchanged is reused (from dist/ or the package cache)."""
    started = time.monotonic()
    box = catalog.load_box(box_name)
    defects.check(defect)
    salt_lock(salt_version, python_minor(box))  # an unknown version fails before any box starts
    package_format = package_format or box.package_format
    builder = format_module(package_format)
    if hasattr(builder, "check"):  # what the format refuses, before any box starts
        builder.check(box, defect)
    foreign = package_format if package_format != box.package_format else None
    digest_ = manifest.inputs_digest(box, salt_version, defect, package_format)
    final = output_dir(box_name, salt_version, defect, dist_dir, foreign)
    log = log_path(box_name, salt_version, defect, dist_dir, foreign)
    if not force and package_cache.is_current(final, digest_):
        progress.note(f"{box_name}: {final} is up to date (same recipe, locks and box)")
        return final
    final.parent.mkdir(parents=True, exist_ok=True)
    if not force:
        cached = Path(tempfile.mkdtemp(prefix=f".cached-{final.name}-", dir=final.parent))
        try:
            if package_cache.restore(final.name, digest_, cached):
                _replace(cached, final)
                progress.note(
                    f"{box_name}: {final} from the package cache (same recipe, locks and box)"
                )
                return final
        finally:
            shutil.rmtree(cached, ignore_errors=True)
    log.parent.mkdir(parents=True, exist_ok=True)
    log.write_text(
        f"build of {final.name}: Salt {salt_version}, defect {defect}, format {package_format}\n"
    )
    tmp = Path(tempfile.mkdtemp(prefix=f".building-{final.name}-", dir=final.parent))
    instance_name = f"build-{box_name}-{os.getpid()}"
    try:
        progress.note(f"{box_name}: build box {instance_name}, log {log}")
        with session.box_instance(box_name, name=instance_name, keep=keep_box) as machine:
            runner = BoxRunner(machine, log)
            staged = stage(machine, box, salt_version, defect, runner)
            with progress.step(f"{box_name}: building {package_format} packages"):
                built = builder.build(runner, staged, REMOTE_OUT)
            with progress.step(f"{box_name}: fetching {len(built)} packages"):
                entries = []
                for pkg in built:
                    runner.fetch(f"{REMOTE_OUT}/{pkg.file}", tmp / pkg.file, f"fetching {pkg.file}")
                    entries.append(
                        manifest.package_entry(tmp / pkg.file, pkg.name, pkg.version, pkg.arch)
                    )
        if keep_box:
            progress.note(
                f"build box kept: harness ssh {instance_name}; "
                f"remove it with harness down {instance_name}"
            )
        manifest.write(
            tmp, manifest.make(staged, package_format, entries, digest_, time.monotonic() - started)
        )
        package_cache.store(final.name, digest_, tmp)
        _replace(tmp, final)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return final


def _replace(new: Path, final: Path):
    """Swap the finished directory into place; the old one goes only once the new one is there."""
    new.chmod(0o755)
    old = final.with_name(f".old-{final.name}-{os.getpid()}")
    if final.exists():
        final.rename(old)
    new.rename(final)
    shutil.rmtree(old, ignore_errors=True)
