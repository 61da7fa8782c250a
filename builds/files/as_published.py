"""Filter a list of files under /opt/salt (one per line on stdin): print the ones that are
not byte-for-byte a file of a wheel published by its project.

Old manylinux wheels (psutil 5.8, MarkupSafe 2.0.1, ...) keep their builder's /tmp/pip-
paths; such a file is what the lock's hash pinned, not something this build left. A file
counts as published when its distribution's WHEEL names a manylinux tag (a wheel compiled
here is tagged linux_x86_64) and its RECORD hash matches. Runs on the build box, under
/opt/salt's own Python: 2.7 or 3, so it reads the .dist-info directories itself.
"""

import base64
import csv
import glob
import hashlib
import io
import os
import sys


def read(path):
    with io.open(path, encoding="utf-8", errors="replace") as f:  # 2.7's open has no encoding
        return f.read()


def published_files():
    """{absolute path: RECORD hash} of every file that came from a published wheel."""
    files = {}
    for entry in sys.path:
        for info in glob.glob(os.path.join(entry or ".", "*.dist-info")):
            wheel, record = os.path.join(info, "WHEEL"), os.path.join(info, "RECORD")
            if not os.path.isfile(record) or "manylinux" not in (
                read(wheel) if os.path.isfile(wheel) else ""
            ):
                continue
            for row in csv.reader(read(record).splitlines()):
                if len(row) >= 2 and row[1].startswith("sha256="):
                    path = os.path.realpath(os.path.join(entry, row[0]))
                    files[path] = row[1][len("sha256=") :]
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
