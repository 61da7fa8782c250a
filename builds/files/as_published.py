"""Filter a list of files under /opt/salt (one per line on stdin): print the ones that are
not byte-for-byte a file of a wheel published by its project.

Old manylinux wheels (psutil 5.8, MarkupSafe 2.0.1, ...) keep their builder's /tmp/pip-
paths; such a file is what the lock's hash pinned, not something this build left. A file
counts as published when its distribution's WHEEL names a manylinux tag (a wheel compiled
here is tagged linux_x86_64) and its RECORD hash matches. Runs on the build box, under
/opt/salt's own Python.
"""

import base64
import hashlib
import os
import sys
from importlib import metadata


def published_files():
    """{absolute path: RECORD hash} of every file that came from a published wheel."""
    files = {}
    for dist in metadata.distributions():
        tags = dist.read_text("WHEEL") or ""
        if "manylinux" not in tags:
            continue
        for entry in dist.files or []:
            if entry.hash is not None and entry.hash.mode == "sha256":
                files[os.path.realpath(entry.locate())] = entry.hash.value
    return files


def digest(path):
    with open(path, "rb") as f:
        raw = hashlib.sha256(f.read()).digest()
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def main():
    published = published_files()
    for line in sys.stdin.read().split():
        recorded = published.get(os.path.realpath(line))
        if recorded is None or digest(line) != recorded:
            print(line)


main()
