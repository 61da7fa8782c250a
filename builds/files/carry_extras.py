"""Run by the package scripts after every install, upgrade or downgrade, with /opt/salt's
new interpreter: salt-pip's extras of another Python minor (extras-3.11 after an upgrade
to an /opt/salt on 3.13) are no longer on the path (salt#69526).

Each pure-Python distribution there (every wheel tag `*-none-any`) is moved, with its
metadata, into this interpreter's extras, and the directory left empty goes. A
distribution built for the other minor stays where it is, and one line tells the admin
how to reinstall it. The admin's own files that no distribution records are left alone.
"""

import csv
import os
import pathlib
import shutil
import sys

PREFIX = pathlib.Path(__file__).resolve().parents[2]
MINOR = "{}.{}".format(*sys.version_info)
EXTRAS = PREFIX / f"extras-{MINOR}"


def metadata(info: pathlib.Path, file: str, key: str) -> list[str]:
    path = info / file
    text = path.read_text(errors="replace") if path.is_file() else ""
    return [line.split(":", 1)[1].strip() for line in text.splitlines() if line.startswith(key)]


def requirement(info: pathlib.Path) -> str:
    name = (metadata(info, "METADATA", "Name:") or [info.name.split("-")[0]])[0]
    version = (metadata(info, "METADATA", "Version:") or [""])[0]
    return f"{name}=={version}" if version else name


def pure(info: pathlib.Path) -> bool:
    tags = metadata(info, "WHEEL", "Tag:")
    return bool(tags) and all(tag.endswith("-none-any") for tag in tags)


def recorded(info: pathlib.Path, old: pathlib.Path) -> list[pathlib.Path]:
    """The files of the distribution inside `old` (a RECORD may name ../../bin/NAME too)."""
    record = info / "RECORD"
    rows = list(csv.reader(record.read_text().splitlines())) if record.is_file() else []
    paths = [pathlib.Path(os.path.normpath(old / row[0])) for row in rows if row]
    return [p for p in paths if old in p.parents and p.is_file() and info not in p.parents]


def carry(info: pathlib.Path, old: pathlib.Path) -> None:
    for path in [*recorded(info, old), info]:
        target = EXTRAS / path.relative_to(old)
        target.parent.mkdir(parents=True, exist_ok=True)
        if target.exists():  # the admin installed it again already: theirs wins
            shutil.rmtree(path) if path.is_dir() else path.unlink()
        else:
            shutil.move(str(path), str(target))


def tidy(old: pathlib.Path) -> None:
    """Stale bytecode and emptied directories go; `old` too, once nothing is left."""
    for cache in old.rglob("__pycache__"):
        shutil.rmtree(cache, ignore_errors=True)
    for directory in sorted(old.rglob("*"), reverse=True):
        if directory.is_dir() and not any(directory.iterdir()):
            directory.rmdir()
    if not any(old.iterdir()):
        old.rmdir()


def main() -> int:
    if not EXTRAS.is_dir():
        return 0
    for old in sorted(PREFIX.glob("extras-*")):
        if old == EXTRAS or not old.is_dir() or old.is_symlink():
            continue
        infos = sorted(old.glob("*.dist-info"))
        movable = [info for info in infos if pure(info)]
        carried = [requirement(info) for info in movable]
        stranded = [requirement(info) for info in infos if info not in movable]
        for info in movable:
            carry(info, old)
        tidy(old)
        if carried:
            print(f"salt-pip: moved {', '.join(carried)} from {old} to {EXTRAS}")
        if stranded:
            print(
                f"salt-pip: {', '.join(stranded)} in {old} {'is' if len(stranded) == 1 else 'are'}"
                f" built for another Python than /opt/salt's {MINOR}: reinstall with "
                f"`salt-pip install {' '.join(stranded)}`"
            )
    return 0


if __name__ == "__main__":
    sys.exit(main())
