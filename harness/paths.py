"""Where the harness keeps things.

Images, keys and inputs are caches (safe to delete, rebuilt on demand) under
~/.cache/salt-venv-harness; running instances live under /var/lib/salt-venv-harness so a
crashed run's leftovers can be found again. Both can be moved by environment variables.
"""

import os
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
BOXES_DIR = REPO_ROOT / "boxes"
DIST_DIR = REPO_ROOT / "dist"


def cache_dir() -> Path:
    default = Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "salt-venv-harness"
    return Path(os.environ.get("SVH_CACHE_DIR", default))


def state_dir() -> Path:
    return Path(os.environ.get("SVH_STATE_DIR", "/var/lib/salt-venv-harness"))


def namespace() -> str:
    """One harness's name among others on the host (its state dir, as one path component):
    what it keeps outside the state dir is kept under it, so one harness's cleanup never
    touches another's boxes."""
    return str(state_dir()).strip("/").replace("/", "_")


def images_dir() -> Path:
    return cache_dir() / "images"


def instances_dir() -> Path:
    return state_dir() / "instances"
