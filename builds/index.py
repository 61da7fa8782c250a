"""What the package index holds of a project: every file of a version, with its hash and URL.

    release_files("psutil", "5.6.1")  # -> [IndexFile(filename, tags or None, sha256, url)]

Read from the index's PEP 691 JSON ($PIP_INDEX_URL, else PyPI), once per project and run.
The lock generator takes every hash of a pinned version from it; the build fetches Python 2's
inputs from it by hash (builds.inputs).
"""

from __future__ import annotations

import functools
import json
import os
import urllib.parse
import urllib.request
from typing import NamedTuple

from packaging.tags import Tag
from packaging.utils import (
    InvalidSdistFilename,
    InvalidWheelFilename,
    canonicalize_name,
    parse_sdist_filename,
    parse_wheel_filename,
)
from packaging.version import Version

from .errors import BuildError


def index_url() -> str:
    return os.environ.get("PIP_INDEX_URL", "https://pypi.org/simple").rstrip("/")


class IndexFile(NamedTuple):
    filename: str
    tags: frozenset[Tag] | None  # a wheel's; None for an sdist
    sha256: str
    url: str


@functools.cache
def project_files(name: str) -> tuple[tuple[str, str, str], ...]:
    """(filename, sha256, url) of every file the index has for the project."""
    page = f"{index_url()}/{canonicalize_name(name)}/"
    request = urllib.request.Request(
        page, headers={"Accept": "application/vnd.pypi.simple.v1+json"}
    )
    try:
        with urllib.request.urlopen(request, timeout=60) as answer:
            files = json.load(answer)["files"]
    except (OSError, ValueError, KeyError) as e:
        raise BuildError(f"cannot list {name}'s files on {index_url()}: {e}") from e
    return tuple(
        (f["filename"], f["hashes"]["sha256"], urllib.parse.urljoin(page, f["url"]))
        for f in files
        if "sha256" in f["hashes"]
    )


def release_files(name: str, version: str) -> list[IndexFile]:
    """The wheels and sdists of one version (no eggs, installers or other projects' files)."""
    out: list[IndexFile] = []
    for filename, sha256, url in project_files(name):
        try:
            if filename.endswith(".whl"):
                _, got, _, tags = parse_wheel_filename(filename)
                if got == Version(version):
                    out.append(IndexFile(filename, frozenset(tags), sha256, url))
            elif parse_sdist_filename(filename)[1] == Version(version):
                out.append(IndexFile(filename, None, sha256, url))
        except (InvalidWheelFilename, InvalidSdistFilename, ValueError):
            continue
    return out
