"""Offline Vagrant boxes for libvirt, made from a box's nspawn image.

The public Debian boxes need the Vagrant registry; this host only reaches the Debian
mirror. So the VM's root is a copy of the nspawn root (same packages, same conflict
libraries) plus a kernel, a small initramfs and a vagrant user, written into an ext4 disk
image with `mkfs.ext4 -d` (no loop mounts) and converted to qcow2. The kernel and initrd
stay outside the disk for direct kernel boot, in a place qemu can read.

Each build is keyed by the nspawn image it came from and by this recipe, like nspawn
images; an unchanged box is never rebuilt.
"""

from __future__ import annotations

import glob
import hashlib
import json
import os
import shutil
import tarfile
import time
from collections.abc import Callable
from pathlib import Path

from ... import progress, settings
from ...catalog import Box
from ...errors import HarnessError
from ...runner import run_logged

# Bump when the way VM boxes are made changes, so they are rebuilt.
VM_FORMAT = 1
DISK_GB = 8
PROVISION_SCRIPT = Path(__file__).with_name("box_provision.sh")
BOX_PREFIX = "salt-venv-harness/"


def insecure_public_key() -> Path:
    """Vagrant's insecure key pair ships with the vagrant package (keys/vagrant.pub)."""
    found = sorted(
        glob.glob("/usr/share/rubygems-integration/all/gems/vagrant-*/keys/vagrant.pub")
        + glob.glob("/opt/vagrant/embedded/gems/gems/vagrant-*/keys/vagrant.pub")
        + glob.glob("/opt/vagrant/embedded/gems/*/gems/vagrant-*/keys/vagrant.pub")
    )
    if not found:
        raise HarnessError(
            "Vagrant's insecure key (keys/vagrant.pub) was not found: install the "
            "vagrant package (./run setup vagrant)"
        )
    return Path(found[-1])


def boot_root() -> Path:
    """Kernels for direct boot live where qemu (as libvirt-qemu) can read them: not in /root."""
    return settings.current().path("SVH_VM_BOOT_DIR", "/var/lib/libvirt/boot/salt-venv-harness")


def box_key(nspawn_image: Path) -> str:
    recipe = {
        "format": VM_FORMAT,
        "nspawn_image": nspawn_image.name,
        "provision": PROVISION_SCRIPT.read_text(),
        "insecure_key": insecure_public_key().read_text(),
        "disk_gb": DISK_GB,
    }
    return hashlib.sha256(json.dumps(recipe, sort_keys=True).encode()).hexdigest()[:16]


def vagrant_box_name(box: Box, key: str) -> str:
    return f"{BOX_PREFIX}{box.name}-{key}"


def _provision_root(box: Box, nspawn_image: Path, root: Path, log_path: Path) -> None:
    with progress.step(f"vm box {box.name}: copy the nspawn root"):
        cp = ["cp", "-a", "--reflink=auto", str(nspawn_image / "rootfs"), str(root)]
        run_logged(cp, log_path, "copying the nspawn root")
    shutil.copy(insecure_public_key(), root / "var/tmp/vagrant.pub")
    script = root / "var/tmp/vagrant_box_provision.sh"
    shutil.copy(PROVISION_SCRIPT, script)
    with progress.step(f"vm box {box.name}: kernel, initramfs, user vagrant"):
        # A plain container run (no boot): apt reaches the mirror over the host's network.
        nspawn = ["systemd-nspawn", "-q", "-D", str(root), "--register=no", "--keep-unit"]
        nspawn += ["--resolv-conf=replace-host", "--timezone=off", "--link-journal=no"]
        nspawn += ["sh", "/var/tmp/vagrant_box_provision.sh", box.name]
        run_logged(nspawn, log_path, f"provisioning the VM root of {box.name}")
    script.unlink()


def _take_kernel(box: Box, root: Path, boot: Path, log_path: Path) -> None:
    kernels = sorted((root / "boot").glob("vmlinuz-*"))
    initrds = sorted((root / "boot").glob("initrd.img-*"))
    if not kernels or not initrds:
        raise HarnessError(
            f"no kernel or initrd in the VM root of {box.name}; full log: {log_path}"
        )
    boot.mkdir()
    shutil.copy(kernels[-1], boot / "vmlinuz")
    shutil.copy(initrds[-1], boot / "initrd.img")


def _disk_box(box: Box, root: Path, work: Path, log_path: Path) -> Path:
    """The root as a qcow2 disk in a libvirt .box file (uncompressed: qcow2 is sparse)."""
    box_dir, raw = work / "box", work / "disk.raw"
    box_dir.mkdir()
    with progress.step(f"vm box {box.name}: disk image"):
        with open(raw, "wb") as f:
            f.truncate(DISK_GB * 1024**3)
        mkfs = ["mkfs.ext4", "-q", "-F", "-L", "root", "-d", str(root), str(raw)]
        run_logged(mkfs, log_path, "mkfs.ext4 of the VM disk")
        shutil.rmtree(root)
        convert = ["qemu-img", "convert", "-O", "qcow2", str(raw), str(box_dir / "box.img")]
        run_logged(convert, log_path, "qemu-img convert")
        raw.unlink()
    metadata = {"provider": "libvirt", "format": "qcow2", "virtual_size": DISK_GB}
    (box_dir / "metadata.json").write_text(json.dumps(metadata))
    # Settings any project using this box gets; the harness sets them again anyway.
    (box_dir / "Vagrantfile").write_text(
        'Vagrant.configure("2") do |config|\n'
        '  config.vm.synced_folder ".", "/vagrant", disabled: true\n'
        "end\n"
    )
    box_file = work / f"{box.name}.box"
    with tarfile.open(box_file, "w") as tar:
        for item in sorted(box_dir.iterdir()):
            tar.add(item, arcname=item.name)
    shutil.rmtree(box_dir)
    return box_file


def build(
    box: Box,
    nspawn_image: Path,
    target: Path,
    log_path: Path,
    add_box: Callable[[str, Path], None],
) -> dict:
    """Make the VM box of `box` into `target` and add it to Vagrant with `add_box(name, path)`.

    Work happens in a sibling directory that is removed whatever happens; `target` only
    appears, complete, at the end.
    """
    key = target.name.rsplit("-", 1)[1]
    work = target.with_name(f".building-{target.name}-{os.getpid()}")
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)
    started = time.monotonic()
    try:
        log_path.write_text("")
        root = work / "rootfs"
        _provision_root(box, nspawn_image, root, log_path)
        _take_kernel(box, root, work / "boot", log_path)
        box_file = _disk_box(box, root, work, log_path)
        name = vagrant_box_name(box, key)
        with progress.step(f"vm box {box.name}: vagrant box add"):
            add_box(name, box_file)
        box_file.unlink()
        info = {
            "box": box.name,
            "vagrant_box": name,
            "key": key,
            "nspawn_image": str(nspawn_image),
            "built_at": time.time(),
            "seconds": round(time.monotonic() - started, 1),
        }
        (work / "image.json").write_text(json.dumps(info, indent=2))
        shutil.rmtree(target, ignore_errors=True)
        target.parent.mkdir(parents=True, exist_ok=True)
        work.rename(target)
        return info
    finally:
        shutil.rmtree(work, ignore_errors=True)
