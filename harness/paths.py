"""Where the harness keeps things.

Images, keys and inputs are caches (safe to delete, rebuilt on demand) under
~/.cache/salt-venv-harness; running instances live under /var/lib/salt-venv-harness so a
crashed run's leftovers can be found again. Both can be moved by environment variables.
"""

import os
from pathlib import Path

from . import settings

REPO_ROOT = Path(__file__).resolve().parent.parent
BOXES_DIR = REPO_ROOT / "boxes"


def dist_dir() -> Path:
    """Where package sets are built and looked for: dist/ of the checkout, or
    $SVH_DIST_DIR (benchmarks build elsewhere). Builds and verifiers both ask here."""
    return settings.current().path("SVH_DIST_DIR", REPO_ROOT / "dist")


def package_set_name(
    box_name: str,
    salt_version: str | None = None,
    defect: str | None = None,
    foreign_format: str | None = None,
    layout: str | None = None,
) -> str:
    """The one naming rule of dist/: BOX[-FORMAT][-LAYOUT][-salt-VERSION][-defect-NAME].
    salt_version None: the default Salt line; foreign_format: a package format other than
    the box's own (rpm from a Debian box); layout: an install layout other than ours
    (onedir)."""
    name = box_name
    if foreign_format:
        name += f"-{foreign_format}"
    if layout and layout != "venv":
        name += f"-{layout}"
    if salt_version:
        name += f"-salt-{salt_version}"
    if defect:
        name += f"-defect-{defect}"
    return name


def package_set_dir(box_name: str, *variant: str | None, **kwargs: str | None) -> Path:
    return dist_dir() / package_set_name(box_name, *variant, **kwargs)


def cache_dir() -> Path:
    default = Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "salt-venv-harness"
    return settings.current().path("SVH_CACHE_DIR", default)


def state_dir() -> Path:
    return settings.current().path("SVH_STATE_DIR", "/var/lib/salt-venv-harness")


def namespace() -> str:
    """One harness's name among others on the host (its state dir, as one path component):
    what it keeps outside the state dir is kept under it, so one harness's cleanup never
    touches another's boxes."""
    return str(state_dir()).strip("/").replace("/", "_")


def images_dir() -> Path:
    return cache_dir() / "images"


def instances_dir() -> Path:
    return state_dir() / "instances"
