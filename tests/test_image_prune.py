"""An image of an older definition of a box is removed once nothing runs on it, and never
while an overlay of any run still reads from it (another checkout's boxes live in another
state directory: only the host's mounts know them)."""

from __future__ import annotations

import subprocess

import pytest

from harness import catalog
from harness.providers.nspawn import image


@pytest.fixture
def images(tmp_path, monkeypatch):
    # The images directory of this process only: the run's own settings (its state
    # directory, which the plugin's box-death check reads) stay as they are.
    monkeypatch.setattr(image.paths, "images_dir", lambda: tmp_path / "images")
    made = {}
    for which, key in (("old", "0" * 16), ("new", "1" * 16)):
        made[which] = tmp_path / "images" / f"debian12-{key}"
        (made[which] / "rootfs").mkdir(parents=True)
    return made


def test_an_image_an_overlay_reads_from_is_kept_until_it_is_unmounted(images, tmp_path):
    box = catalog.load_box("debian12")
    layers = {name: tmp_path / name for name in ("upper", "work", "merged")}
    for d in layers.values():
        d.mkdir()
    lower = images["old"] / "rootfs"
    options = f"lowerdir={lower},upperdir={layers['upper']},workdir={layers['work']}"
    subprocess.run(
        ["mount", "-t", "overlay", "overlay", "-o", options, str(layers["merged"])], check=True
    )
    try:
        image.prune(box, keep=images["new"])
        assert images["old"].is_dir(), "pruned an image a mounted overlay reads from"
    finally:
        subprocess.run(["umount", str(layers["merged"])], check=True)
    image.prune(box, keep=images["new"])
    assert not images["old"].exists() and images["new"].is_dir()
