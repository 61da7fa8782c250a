"""Images for nspawn boxes, cached under a hash of everything that decides their content:
- Debian boxes ([providers.nspawn] suite): an mmdebstrap root of the box's release from the
  host's Debian mirror, provisioned by provision.sh (box definition, packages, sources,
  provision script and the harness key make the hash);
- the glibc 2.17 box ([providers.nspawn] root = "glibc-2.17"): glibc_root.py's root.
A Debian box whose init is EL's SysV (centos6-rpm) also gets sysv_root.py's stand-ins and
EL's rc (sysv_debian.py).
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import time
from collections.abc import Callable
from pathlib import Path

from ... import keys, paths, platform, progress, runner, settings, state
from ...aptsources import debian_mirrors
from ...catalog import Box
from ...errors import HarnessError
from ...sources import digest
from . import glibc_root, overlay, system_python, sysv_debian, sysv_root

# Bump when the way images are made changes, so cached images are rebuilt.
IMAGE_FORMAT = 1
BASE_PACKAGES = [
    "systemd",
    "systemd-sysv",
    "dbus",
    "iproute2",
    "openssh-server",
    "procps",
    "iputils-ping",
    "python3",
    "ca-certificates",
]
PROVISION_SCRIPT = Path(__file__).with_name("provision.sh")


def sources(box: Box, mirror: str | None) -> list[str]:
    assert box.providers.nspawn is not None and box.providers.nspawn.suite is not None
    host_archive, host_security = debian_mirrors()
    archive = mirror or settings.current().text("SVH_DEBIAN_MIRROR") or host_archive
    if not archive:
        raise HarnessError(
            "no Debian mirror found in /etc/apt/sources*; pass --mirror URL "
            "or set SVH_DEBIAN_MIRROR"
        )
    suite = box.providers.nspawn.suite
    comps = " ".join(box.providers.nspawn.components)
    lines = [f"deb {archive} {suite} {comps}", f"deb {archive} {suite}-updates {comps}"]
    security = settings.current().text("SVH_DEBIAN_SECURITY_MIRROR") or host_security
    if security and not mirror:
        lines.append(f"deb {security} {suite}-security {comps}")
    return lines


def packages(box: Box) -> list[str]:
    tools = list(platform.of(box).packages.image_packages)
    wanted = BASE_PACKAGES + tools + distro_conflicts(box) + box.build_packages
    return list(dict.fromkeys(wanted))


def distro_conflicts(box: Box) -> list[str]:
    """The conflicting libraries the root's distribution installs (none where they come with
    a system Python built here)."""
    return [] if stages_python(box) else [c.package for c in box.conflicts]


def stages_python(box: Box) -> str | None:
    """The release whose system Python (and conflicting libraries) the image is given, if any."""
    return box.providers.nspawn.system_python if box.providers.nspawn is not None else None


def sysv_helpers(box: Box) -> bool:
    """Does the box's init run scripts on helpers its root lacks (EL's SysV on Debian)?"""
    return platform.of(box).services.scripts_need_helpers


def is_glibc_root(box: Box) -> bool:
    return box.providers.nspawn is not None and box.providers.nspawn.root == "glibc-2.17"


# What of a catalog entry shapes its image (not how packages are built or checked on it).
IMAGE_FIELDS = {"name", "family", "release", "codename", "python", "conflicts"}
IMAGE_FIELDS |= {"build_packages", "providers"}


def image_key(box: Box, mirror: str | None = None) -> str:
    shape = box.model_dump(mode="json", include=IMAGE_FIELDS)
    release = stages_python(box)
    staged = system_python.cache_key(release) if release else ""
    if is_glibc_root(box):
        return digest(glibc_root.root_key(), json.dumps(shape, sort_keys=True), staged)[:16]
    _, public_key = keys.ensure_key()
    recipe = {
        "format": IMAGE_FORMAT,
        "box": shape,
        "packages": packages(box),
        "sources": sources(box, mirror),
        "provision": PROVISION_SCRIPT.read_text(),
        "key": public_key,
    }
    if staged:  # only then: the other images keep their keys
        recipe["system_python"] = staged
    if sysv_helpers(box):  # likewise
        recipe["sysv"] = [Path(str(m.__file__)).read_text() for m in (sysv_root, sysv_debian)]
    return hashlib.sha256(json.dumps(recipe, sort_keys=True).encode()).hexdigest()[:16]


def image_dir(box: Box, mirror: str | None = None) -> Path:
    return paths.images_dir() / f"{box.name}-{image_key(box, mirror)}"


def is_built(target: Path) -> bool:
    return (target / "image.json").exists()


def build(box: Box, force: bool = False, mirror: str | None = None) -> Path:
    """The image of `box`, built once; two runs wanting it (xdist workers) build it once."""
    target = image_dir(box, mirror)
    if is_built(target) and not force:
        return target
    users = [i.name for i in state.all_instances() if i.image == str(target)]
    if users:  # their overlays read from it: replacing it would pull the floor from under them
        raise HarnessError(
            f"image {target.name} is in use by {', '.join(users)}; "
            f"harness down them first, then rebuild it"
        )
    with state.locked(paths.images_dir() / f".{box.name}.lock"):
        if is_built(target) and not force:
            return target
        if is_glibc_root(box):
            _glibc_root(box, target)
        else:
            _mmdebstrap(box, target, mirror)
    prune(box, keep=target)
    return target


def _mmdebstrap(box: Box, target: Path, mirror: str | None) -> None:
    assert box.providers.nspawn is not None and box.providers.nspawn.suite is not None
    suite = box.providers.nspawn.suite
    _, public_key = keys.ensure_key()
    conflicts = " ".join(distro_conflicts(box))

    def make_root(rootfs: Path, log_path: Path) -> None:
        argv = [
            "mmdebstrap",
            "--variant=minbase",
            "--include=" + ",".join(packages(box)),
            f"--customize-hook=sh {PROVISION_SCRIPT} \"$1\" {box.name} '{conflicts}'",
            suite,
            str(rootfs),
            *sources(box, mirror),
        ]
        env = dict(os.environ, SVH_PUBKEY=public_key)
        runner.run_logged(argv, log_path, f"image build of {box.name} (mmdebstrap)", env=env)
        if sysv_helpers(box):
            sysv_debian.install(rootfs)
        if release := stages_python(box):
            system_python.install_rpms(release, rootfs, log_path)

    extra = {"packages": packages(box), "sources": sources(box, mirror)}
    _make_image(box, target, f"mmdebstrap {suite}", make_root, extra)


def _glibc_root(box: Box, target: Path) -> None:
    what = "glibc 2.17 runtime, busybox, dropbear"

    def make_root(rootfs: Path, log_path: Path) -> None:
        glibc_root.build_root(rootfs, log_path, box)
        if release := stages_python(box):
            system_python.copy_into(release, rootfs, log_path)

    if release := stages_python(box):
        what += f", {system_python.RELEASES[release].title}'s Python"
    _make_image(box, target, what, make_root, {})


def _make_image(
    box: Box, target: Path, what: str, make_root: Callable[[Path, Path], None], extra: dict
) -> None:
    """make_root(rootfs, log) in a work dir that becomes `target`, with its image.json,
    only when it succeeds."""
    work = target.with_name(f".building-{target.name}-{os.getpid()}")
    log_path = paths.images_dir() / f"{box.name}.build.log"
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)
    started = time.monotonic()
    try:
        log_path.write_text("")
        with progress.step(f"image {box.name}: {what}"):
            make_root(work / "rootfs", log_path)
        info = {"box": box.name, "key": target.name.rsplit("-", 1)[1], "built_at": time.time()}
        info["seconds"] = round(time.monotonic() - started, 1)
        (work / "image.json").write_text(json.dumps(info | extra, indent=2))
        shutil.rmtree(target, ignore_errors=True)
        work.rename(target)
    finally:
        shutil.rmtree(work, ignore_errors=True)


def prune(box: Box, keep: Path) -> None:
    """An image of an older definition of the box is never used again, once no box runs
    on it: neither one of this state directory's nor one of another run's (a checkout of
    another tree, a namespace of its own), whose overlay still reads from it."""
    mounted = {str(Path(lower).parent) for lower in overlay.lower_dirs_mounted()}
    in_use = {i.image for i in state.all_instances()} | mounted
    for old in paths.images_dir().glob(f"{box.name}-*"):
        if (
            old != keep
            and old.is_dir()
            and str(old) not in in_use
            and re.fullmatch(rf"{re.escape(box.name)}-[0-9a-f]{{16}}", old.name)
        ):
            shutil.rmtree(old, ignore_errors=True)
