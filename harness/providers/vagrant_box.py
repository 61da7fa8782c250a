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
import subprocess
import tarfile
import time
from pathlib import Path

from .. import progress
from ..catalog import Box
from ..errors import HarnessError

# Bump when the way VM boxes are made changes, so they are rebuilt.
VM_FORMAT = 1
DISK_GB = 8
PROVISION_SCRIPT = Path(__file__).with_name("vagrant_box_provision.sh")
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
    return Path(os.environ.get("SVH_VM_BOOT_DIR", "/var/lib/libvirt/boot/salt-venv-harness"))


def box_key(nspawn_image: Path) -> str:
    digest = hashlib.sha256(
        json.dumps(
            {
                "format": VM_FORMAT,
                "nspawn_image": nspawn_image.name,
                "provision": PROVISION_SCRIPT.read_text(),
                "insecure_key": insecure_public_key().read_text(),
                "disk_gb": DISK_GB,
            },
            sort_keys=True,
        ).encode()
    ).hexdigest()
    return digest[:16]


def vagrant_box_name(box: Box, key: str) -> str:
    return f"{BOX_PREFIX}{box.name}-{key}"


def _run_logged(argv: list[str], log, what: str, log_path: Path, **kw):
    log.write("$ " + " ".join(argv) + "\n")
    log.flush()
    proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, **kw)
    for line in proc.stdout:
        log.write(line)
        progress.detail(line.strip())
    if proc.wait() != 0:
        raise HarnessError(f"{what} failed (exit {proc.returncode}); full log: {log_path}")


def build(box: Box, nspawn_image: Path, target: Path, log_path: Path, add_box) -> dict:
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
        with open(log_path, "w") as log:
            root = work / "rootfs"
            with progress.step(f"vm box {box.name}: copy the nspawn root"):
                _run_logged(
                    ["cp", "-a", "--reflink=auto", str(nspawn_image / "rootfs"), str(root)],
                    log,
                    "copying the nspawn root",
                    log_path,
                )
            shutil.copy(insecure_public_key(), root / "var/tmp/vagrant.pub")
            shutil.copy(PROVISION_SCRIPT, root / "var/tmp/vagrant_box_provision.sh")
            with progress.step(f"vm box {box.name}: kernel, initramfs, user vagrant"):
                # A plain container run (no boot): apt reaches the mirror over the host's network.
                _run_logged(
                    [
                        "systemd-nspawn",
                        "-q",
                        "-D",
                        str(root),
                        "--register=no",
                        "--keep-unit",
                        "--resolv-conf=replace-host",
                        "--timezone=off",
                        "--link-journal=no",
                        "sh",
                        "/var/tmp/vagrant_box_provision.sh",
                        box.name,
                    ],
                    log,
                    f"provisioning the VM root of {box.name}",
                    log_path,
                    stdin=subprocess.DEVNULL,
                )
            (root / "var/tmp/vagrant_box_provision.sh").unlink()
            kernels = sorted((root / "boot").glob("vmlinuz-*"))
            initrds = sorted((root / "boot").glob("initrd.img-*"))
            if not kernels or not initrds:
                raise HarnessError(
                    f"no kernel or initrd in the VM root of {box.name}; full log: {log_path}"
                )
            boot = work / "boot"
            boot.mkdir()
            shutil.copy(kernels[-1], boot / "vmlinuz")
            shutil.copy(initrds[-1], boot / "initrd.img")

            box_dir = work / "box"
            box_dir.mkdir()
            raw = work / "disk.raw"
            with progress.step(f"vm box {box.name}: disk image"):
                with open(raw, "wb") as f:
                    f.truncate(DISK_GB * 1024**3)
                _run_logged(
                    ["mkfs.ext4", "-q", "-F", "-L", "root", "-d", str(root), str(raw)],
                    log,
                    "mkfs.ext4 of the VM disk",
                    log_path,
                )
                shutil.rmtree(root)
                _run_logged(
                    ["qemu-img", "convert", "-O", "qcow2", str(raw), str(box_dir / "box.img")],
                    log,
                    "qemu-img convert",
                    log_path,
                )
                raw.unlink()
            (box_dir / "metadata.json").write_text(
                json.dumps({"provider": "libvirt", "format": "qcow2", "virtual_size": DISK_GB})
            )
            # Settings any project using this box gets; the harness sets them again anyway.
            (box_dir / "Vagrantfile").write_text(
                'Vagrant.configure("2") do |config|\n'
                '  config.vm.synced_folder ".", "/vagrant", disabled: true\n'
                "end\n"
            )
            box_file = work / f"{box.name}.box"
            with progress.step(f"vm box {box.name}: vagrant box add"):
                with tarfile.open(box_file, "w") as tar:  # uncompressed: qcow2 is already sparse
                    for item in sorted(box_dir.iterdir()):
                        tar.add(item, arcname=item.name)
                shutil.rmtree(box_dir)
                name = vagrant_box_name(box, key)
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
