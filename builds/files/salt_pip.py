#!/opt/salt/bin/python3
"""salt-pip of a venv Salt: Salt's own salt-pip, told that /opt/salt is its onedir root,
with an install that merges into the extras instead of skipping what is already there.

Salt's salt-pip runs `pip install --target EXTRAS`, and pip's --target leaves out every
top-level directory of the new package that already exists in EXTRAS. Salt extensions
share the `saltext` namespace, so a second extension (saltext.vmware after
saltext.bitwarden) arrives as metadata only, and Salt fails to load it (salt#65433). Here
pip installs into an empty directory; an earlier install of each distribution it made is
removed from the extras (the files its RECORD lists), and the new files are merged in.
"""

import csv
import os
import pathlib
import re
import shutil
import subprocess
import sys
import tempfile

# Salt's salt-pip serves relenv onedirs only; /opt/salt is our equivalent of one.
sys.RELENV = pathlib.Path("/opt/salt")  # type: ignore[attr-defined]

# Where Salt's salt-pip installs: SALT_EXTRAS_DIR when set (Salt 3008), else the extras of
# this interpreter's minor version.
EXTRAS = pathlib.Path(
    os.environ.get("SALT_EXTRAS_DIR") or "/opt/salt/extras-{}.{}".format(*sys.version_info)
)

try:
    from salt.scripts import salt_pip
except ImportError:  # Salt 3005 and older (EL6's) have none: pip, as 3006's runs it

    def salt_pip():
        arguments = sys.argv[1:]
        if "install" in arguments and not any(a.startswith("--target") for a in arguments):
            arguments.append(f"--target={EXTRAS}")
        sys.exit(subprocess.call([sys.executable, "-m", "pip", *arguments]))


def canonical(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def distribution(info: pathlib.Path) -> str:
    """The canonical name of the distribution a .dist-info directory describes."""
    metadata = info / "METADATA"
    if metadata.is_file():
        for line in metadata.read_text(errors="replace").splitlines():
            if line.startswith("Name:"):
                return canonical(line[len("Name:") :].strip())
    return canonical(info.name.rsplit("-", 1)[0])


def remove_earlier(name: str) -> None:
    """Remove what an earlier install of `name` put into the extras, as pip would."""
    for info in EXTRAS.glob("*.dist-info"):
        if distribution(info) != name:
            continue
        record = info / "RECORD"
        rows = list(csv.reader(record.read_text().splitlines())) if record.is_file() else []
        for row in rows:
            path = pathlib.Path(os.path.normpath(EXTRAS / row[0])) if row else EXTRAS
            # Only files inside the extras: a RECORD may name scripts as ../../bin/NAME.
            if EXTRAS in path.parents and (path.is_file() or path.is_symlink()):
                path.unlink()
        shutil.rmtree(info, ignore_errors=True)


def remove_emptied_directories() -> None:
    for directory in sorted(EXTRAS.rglob("*"), reverse=True):  # the deepest first
        if directory.is_dir() and not directory.is_symlink() and not any(directory.iterdir()):
            directory.rmdir()


def merged_install() -> int:
    with tempfile.TemporaryDirectory(prefix="salt-pip-") as staging:
        sys.argv.append(f"--target={staging}")
        try:
            salt_pip()
            code = 0
        except SystemExit as done:
            code = done.code if isinstance(done.code, int) else int(done.code is not None)
        if code:
            return code
        for info in pathlib.Path(staging).glob("*.dist-info"):
            remove_earlier(distribution(info))
        remove_emptied_directories()  # once, after every earlier install is gone
        shutil.copytree(staging, EXTRAS, symlinks=True, dirs_exist_ok=True)
    return 0


if __name__ == "__main__":
    arguments = sys.argv[1:]
    if "install" in arguments and not any(a.startswith("--target") for a in arguments):
        sys.exit(merged_install())
    sys.exit(salt_pip())
