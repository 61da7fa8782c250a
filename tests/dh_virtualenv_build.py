"""A salt venv DEB built by someone else's tool: Debian's dh-virtualenv (bookworm's), from the
recipe in tests/dh_virtualenv/, on a fresh debian12 build box. The box stays offline: the
host fetches bookworm's dh-virtualenv and debhelper for what that box lacks (apt, reading
the box's own package status), and the lock's wheels and sdists as our builds fetch them.

A test fixture, not a product build path: it stands for a team that packages its venv Salt
another way. The .deb is cached by the recipe and the lock it installs."""

from __future__ import annotations

import shlex
import subprocess
from pathlib import Path

from builds import inputs, locks
from builds.remote import BoxRunner
from harness import catalog, session
from harness.sources import cache_root, digest, filling

BOX = "debian12"
RECIPE = Path(__file__).with_name("dh_virtualenv")
TOOLS = ["dh-virtualenv", "debhelper"]
WORK = "/var/tmp/dh-virtualenv"  # on the build box; debian/rules names its inputs there


def salt_lock() -> Path:
    box = catalog.load_box(BOX)
    assert box.python.version is not None
    return locks.salt_lock(locks.box_line(BOX), ".".join(box.python.version.split(".")[:2]))


def recipe_key() -> str:
    files = sorted(p for p in RECIPE.rglob("*") if p.is_file())
    parts = [f"{p.relative_to(RECIPE)}={p.read_text()}" for p in files]
    return digest("dh-virtualenv-v1", *parts, salt_lock().read_text())[:16]


def dh_virtualenv_packages(log: Path) -> Path:
    """The directory holding the .deb dh-virtualenv built (cached)."""
    final = cache_root() / "dh-virtualenv" / recipe_key()
    if any(final.glob("*.deb")):
        return final
    with filling(final) as out:
        build(out, log)
    return final


def build(out: Path, log: Path) -> None:
    box = catalog.load_box(BOX)
    assert box.python.version is not None
    minor = ".".join(box.python.version.split(".")[:2])
    lock = salt_lock()
    fetched = inputs.fetch_inputs(lock, locks.build_lock(minor), minor, box.glibc, log)
    with session.box_instance(BOX, name=f"dh-virtualenv-{BOX}") as machine:
        runner = BoxRunner(machine, log)
        install_tools(runner, out.parent / "debs", log)
        runner.run(f"mkdir -p {WORK}/src {WORK}/inputs", "preparing the build directory")
        runner.copy_in(RECIPE, f"{WORK}/src", "copying the dh-virtualenv recipe in")
        runner.send_file(lock, f"{WORK}/src/requirements.txt", "copying the lock in")
        runner.copy_in(fetched, f"{WORK}/inputs", "copying the lock's wheels and sdists in")
        runner.run(
            f"cd {WORK}/src && dpkg-buildpackage -us -uc -b", "building the DEB with dh-virtualenv"
        )
        for name in runner.output(f"cd {WORK} && ls *.deb", "listing the DEB").split():
            runner.fetch(f"{WORK}/{name}", out / name, f"fetching {name}")


def install_tools(runner: BoxRunner, cache: Path, log: Path) -> None:
    """bookworm's dh-virtualenv and debhelper, with what they need that the box lacks, as
    apt resolves it against the box's own package status; installed offline."""
    status = cache / "status"
    status.parent.mkdir(parents=True, exist_ok=True)
    status.write_text(runner.output("cat /var/lib/dpkg/status", "reading the box's packages"))
    archives = cache / "archives"
    (archives / "partial").mkdir(parents=True, exist_ok=True)
    for stale in archives.glob("*.deb"):
        stale.unlink()
    with open(log, "ab") as f:
        subprocess.run(
            [
                "apt-get", "install", "-y", "-q", "--download-only", "--no-install-recommends",
                f"-o=Dir::State::status={status}", f"-o=Dir::Cache::archives={archives}",
                "-o=Debug::NoLocking=1", *TOOLS,
            ],
            stdout=f, stderr=subprocess.STDOUT, check=True,
        )  # fmt: skip
    runner.run(f"mkdir -p {WORK}/debs", "preparing the tools' directory")
    runner.copy_in(archives, f"{WORK}/debs", "copying dh-virtualenv and debhelper in")
    debs = " ".join(shlex.quote(f"{WORK}/debs/{p.name}") for p in sorted(archives.glob("*.deb")))
    runner.run(
        f"DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends {debs}",
        "installing dh-virtualenv and debhelper",
    )
