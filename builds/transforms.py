"""How a variant build differs from the good one: build options and transforms of the
staged payload. The good build is the default of each (no option changed, no transform);
builds/defects.py names the variants, so only their builds depend on it.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .payload import StagedPayload


@dataclass(frozen=True)
class BuildOptions:
    """What a defect changes in the build itself (the good build: all defaults)."""

    target_glibc: bool = True  # a portable payload's wheels are for the target's glibc
    own_libssl: bool = True  # a bundled CPython keeps its own libssl and libcrypto
    left_out: frozenset[str] = frozenset()  # locked distributions not installed


def _nothing(*_args) -> None:
    return None


@dataclass(frozen=True)
class Transform:
    """How one defect breaks a good payload."""

    options: BuildOptions = BuildOptions()
    # On the packages' description (StagedPayload.packages), given Python's X.Y.
    describe: Callable[[StagedPayload, str], None] = _nothing
    # On the files tree beside the venv (dest/<package>/<path>).
    files: Callable[[StagedPayload, Path], None] = _nothing
    # A shell command on the staged venv (venv dir, Python's X.Y), or None.
    venv: Callable[[StagedPayload, str, str], str | None] = _nothing
    # On the RPM spec's text.
    spec: Callable[[str], str] = lambda text: text

    @property
    def keeps_the_venv(self) -> bool:
        """The good build's /opt/salt serves: the build itself is the good one's, and what
        differs (the packages' description, the files beside the venv, the spec, or the
        staged copy of the venv, which `venv` changes after staging) is applied to it, so
        the venv is not built again."""
        return self.options == BuildOptions()
