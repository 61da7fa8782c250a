"""Salt's own package tests (tests/pytests/pkg of Salt's sdist) in a box of ours, against
our packages, as Salt's CI runs them: the suite's tree as the checkout, our package files
in its artifacts/pkg/, and as its runner the onedir those packages carry (artifacts/salt,
unpacked from them, with the suite's requirements installed into it from wheels), run as
root with `--pkg-system-service`, so the daemons run as the box's own services.

The box stays offline. What of theirs needs the network, or another system, is deselected
here with the reason; no test of theirs is edited.
"""

from __future__ import annotations

import shlex
from dataclasses import dataclass

from harness import platform
from harness.transport import Machine

from ..packages import PackageSet
from .inputs import SuiteInputs

NAME = "salt-pkg-tests"
TITLE = "Salt's package tests"
ONEDIR = "/opt/saltstack/salt"  # where the suite expects Salt (SaltPkgInstall.install_dir)
WORKDIR = "/srv/salt-pkg-tests"
RUNNER = f"{WORKDIR}/artifacts/salt"  # where Salt's CI has its onedir
TESTS = "tests/pytests/pkg/"
# What Salt's CI passes every chunk (its noxfile's test-pkgs-onedir session), but coverage.
COMMON_ARGS = ("-ra", "--color=no", "-p", "no:cacheprovider", "--run-destructive")
SERVICE_ARGS = ("--sys-stats", "--pkg-system-service")
# The chunks Salt's CI runs, and why a box of ours runs only some of them.
CHUNKS = {"install": ()}
NOT_RUN = {
    "upgrade": "installs the previous release from packages.broadcom.com (https, hard-coded "
    "in tests/support/pkg.py's install_previous): a box never reaches it",
    "downgrade": "the same: the release it goes back to comes from packages.broadcom.com",
    "download-pkgs": "downloads Salt's published packages from its repositories",
}


# What their tests install from PyPI with salt-pip (integration/test_pip.py,
# test_onedir_harden.py): served from the box's wheel directory through /etc/pip.conf, as an
# offline site's mirror would, so that those tests run here too.
INSTALLED_BY_THEIR_TESTS = ("pep8", "saltext.vault==1.3.2")
PIP_CONF = f"[global]\nno-index = true\nfind-links = {WORKDIR}/wheels\n"


@dataclass(frozen=True)
class Deselected:
    test: str  # a node id under tests/pytests/pkg/, or a prefix of several
    reason: str


# Filled from what the suite does on a box without network; each with the reason.
DESELECTED: tuple[Deselected, ...] = ()


def deselect_args() -> list[str]:
    return [arg for d in DESELECTED for arg in ("--deselect", TESTS + d.test)]


def stage_script(inputs: SuiteInputs, packages: PackageSet, files: list[str], box) -> str:
    """Shell that makes WORKDIR the suite's checkout: its tree from the sdist (without
    salt/ and doc/: Salt is the runner's), our packages in artifacts/pkg/, the runner in
    artifacts/salt with the requirements installed offline; then the box's repositories
    are set offline, as Salt's conftest refreshes them."""
    db = platform.of(box).packages
    interpreter = packages.layout.interpreter.replace(packages.layout.prefix, RUNNER, 1)
    pkg_dir = f"{WORKDIR}/artifacts/pkg"
    ours = [f"{pkg_dir}/{f.rsplit('/', 1)[1]}" for f in files]
    return "\n".join(
        [
            "set -e",
            f"cd {WORKDIR}",
            f"tar -xzf sdist.tar.gz --strip-components=1 --anchored "
            f"--exclude={inputs.top}/salt --exclude={inputs.top}/doc",
            f"rm sdist.tar.gz && mkdir -p {pkg_dir} && mv {shlex.join(files)} {pkg_dir}/",
            "rm -rf /tmp/onedir && mkdir /tmp/onedir && cd /tmp/onedir",
            db.unpack_here(ours),
            f"mv /tmp/onedir{packages.layout.prefix} {RUNNER}",
            f"cd {WORKDIR} && rm -rf /tmp/onedir",
            f"{interpreter} -m pip install -q --disable-pip-version-check --no-index "
            "--find-links wheels --no-deps -r requirements-lock.txt",
            f"printf %s {shlex.quote(PIP_CONF)} > /etc/pip.conf",
            db.offline_repositories(),
        ]
    )


def chunk_command(chunk: str, packages: PackageSet) -> str:
    """The pytest run of one chunk, its JUnit and log under artifacts/ as Salt's CI has them."""
    interpreter = packages.layout.interpreter.replace(packages.layout.prefix, RUNNER, 1)
    args = [
        *COMMON_ARGS,
        *SERVICE_ARGS,
        *CHUNKS[chunk],
        f"--junitxml=artifacts/xml-unittests-output/test-results-{chunk}.xml",
        f"--log-file=artifacts/logs/runtests-{chunk}.log",
        TESTS,
        *deselect_args(),
    ]
    return f"cd {WORKDIR} && ONEDIR_TESTRUN=1 {interpreter} -m pytest {shlex.join(args)}"


def junit_of(chunk: str) -> str:
    return f"{WORKDIR}/artifacts/xml-unittests-output/test-results-{chunk}.xml"


def log_of(chunk: str) -> str:
    return f"{WORKDIR}/artifacts/logs/runtests-{chunk}.log"


def stage(machine: Machine, inputs: SuiteInputs, packages: PackageSet) -> None:
    """Copy the suite, its wheels and our packages into the box, and set them up there."""
    machine.run(f"rm -rf {WORKDIR} && mkdir -p {WORKDIR}")
    machine.send_file(inputs.sdist, f"{WORKDIR}/sdist.tar.gz")
    machine.send_dir(inputs.wheels, f"{WORKDIR}/wheels")
    machine.put_file(inputs.lock, f"{WORKDIR}/requirements-lock.txt")
    files = packages.copy_to(machine)
    machine.run(stage_script(inputs, packages, files, machine.spec), timeout=900)
