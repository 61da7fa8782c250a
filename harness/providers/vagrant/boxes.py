"""The Vagrant boxes the provider uses: public ones from the registry, or (Debian on libvirt)
offline ones made from the nspawn image by offline_box.py. Listing boxes starts Vagrant,
so the list is kept per process and dropped whenever the harness adds or removes one."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import vagrant

from ... import paths, state
from ...catalog import Box
from . import offline_box
from .host import checked, client

_listed: list[vagrant.Box] | None = None


def listed() -> list[vagrant.Box]:
    global _listed
    if _listed is None:
        log = paths.cache_dir() / "vagrant" / "boxes.log"
        with checked("box list", log):
            _listed = client(None, log).box_list()
    return _listed


def forget_listing() -> None:
    global _listed
    _listed = None


def added(name: str) -> bool:
    return any(b.name == name for b in listed())


def offline_target(box: Box, nspawn_image: Path) -> Path:
    return offline_box.boot_root() / f"{box.name}-{offline_box.box_key(nspawn_image)}"


def offline_info(target: Path) -> dict | None:
    try:
        info: dict = json.loads((target / "image.json").read_text())
        return info
    except (OSError, ValueError):
        return None


def build_offline(box: Box, nspawn_image: Path, force: bool) -> Path:
    """The offline box of `box` made from its nspawn image, added to Vagrant; cached."""
    target = offline_target(box, nspawn_image)
    with state.locked(paths.images_dir() / f".{box.name}-vagrant.lock"):
        info = offline_info(target)
        if info and not force and added(info["vagrant_box"]):
            return target
        log_path = paths.images_dir() / f"{box.name}.vagrant-box.log"

        def add_box(name: str, box_file: Path) -> None:
            with checked(f"box add {name}", log_path):
                client(None, log_path).box_add(name, str(box_file), provider="libvirt", force=True)

        try:
            offline_box.build(box, nspawn_image, target, log_path, add_box)
        finally:
            forget_listing()
        _prune_offline(box, keep=target)
    return target


def _prune_offline(box: Box, keep: Path) -> None:
    """Older VM boxes of `box` (an older definition) are never used again."""
    in_use = {i.image for i in state.all_instances()}
    for old in offline_box.boot_root().glob(f"{box.name}-*"):
        if old != keep and str(old) not in in_use:
            shutil.rmtree(old, ignore_errors=True)
    prefix = f"{offline_box.BOX_PREFIX}{box.name}-"
    current = f"{prefix}{keep.name.rsplit('-', 1)[1]}"
    log = paths.images_dir() / f"{box.name}.vagrant-box.log"
    for b in listed():
        if b.name.startswith(prefix) and b.name != current:
            with checked(f"box remove {b.name}", log):
                client(None, log).box_remove(b.name, b.provider)
            forget_listing()
