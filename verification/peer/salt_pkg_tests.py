"""Salt's own package tests (tests/pytests/pkg of Salt's sdist) in a box of ours, against
our packages, as Salt's CI runs them: the suite's tree as the checkout, our package files
in its artifacts/pkg/, and as its runner the onedir those packages carry (artifacts/salt,
unpacked from them, with the suite's requirements installed into it from wheels), run as
root with `--pkg-system-service`, so the daemons run as the box's own services.

The box stays offline. What of theirs needs the network, or another system, is deselected
here with the reason; no test of theirs is edited.
"""

from __future__ import annotations

import re
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


DESELECTED: tuple[Deselected, ...] = (
    Deselected(
        "integration/test_pkg.py::test_pkg_install",
        "installs ifenslave from the distribution's repositories, which a box never reaches",
    ),
    Deselected(
        "integration/test_pkg_meta.py",
        "reads the set's salt RPM (salt-VERSION-N.x86_64.rpm); it skips itself only where "
        "the rpm tool is missing, and our Debian boxes have Debian's rpm",
    ),
    Deselected(
        "integration/test_pip.py::test_pip_install_salt_extension_in_extras",
        "salt-pip resolves saltext.vault's requirement salt>=3006 apart from the onedir's "
        "own Salt (pip --target), so it needs Salt and its dependencies as wheels from an "
        "index; the box's local directory holds only the extension",
    ),
)


@dataclass(frozen=True)
class NotApplicable:
    """A failure of theirs that says nothing about our packages: the test (a node id, or a
    prefix of several) failing with a message or traceback that matches `message` (a regex;
    empty: any).
    The report shows it apart, with the reason; any other failure of the test still fails."""

    test: str
    reason: str
    message: str = ""

    def covers(self, name: str, message: str) -> bool:
        return name.startswith(self.test) and bool(re.search(self.message, message))


# Salt 3008's packages chown the onedir and the extras to the user salt unless
# SALT_ONEDIR_HARDEN=1, and take SALT_USER, SALT_HOME and SALT_EXTRAS_DIR from the package
# manager's environment, /etc/default/salt-setup or /etc/sysconfig/salt-minion-setup
# (salt#69402). Ours keep every file root's (suites/test_permissions.py) and have no knobs.
OWN_LAYOUT = (
    "Salt 3008's packaging knobs and defaults: a salt-owned onedir unless "
    "SALT_ONEDIR_HARDEN=1, SALT_USER/SALT_HOME/SALT_EXTRAS_DIR overrides (salt#69402); our "
    "packages keep every file root's and offer no such knob"
)
NOT_APPLICABLE: tuple[NotApplicable, ...] = (
    NotApplicable(
        "",
        "their teardown purges salt-dbg, Salt's debug-symbol package, by name; our sets "
        "build none, and apt refuses to purge a package it does not know",
        # SaltPkgInstall.uninstall: apt-get purge ... salt-common salt-dbg, exit 100
        r"in uninstall\n[\s\S]*ProcessResult\(returncode=100, [\s\S]*'salt-dbg'\]",
    ),
    NotApplicable("integration/config_overrides/", OWN_LAYOUT),
    NotApplicable("integration/onedir_harden_lifecycle/", OWN_LAYOUT),
    NotApplicable(
        "integration/test_onedir_harden.py::test_hardening_unset_matches_legacy_default",
        OWN_LAYOUT,
    ),
    NotApplicable("integration/test_salt_user.py::test_pkg_paths", OWN_LAYOUT, "'root' == 'salt'"),
)


def not_applicable(name: str, message: str) -> NotApplicable | None:
    """Why a failure of test `name` does not apply to our packages, if it does not."""
    return next((n for n in NOT_APPLICABLE if n.covers(name, message)), None)


def deselect_args() -> list[str]:
    return [arg for d in DESELECTED for arg in ("--deselect", TESTS + d.test)]


def runner_interpreter(packages: PackageSet) -> str:
    """The runner's interpreter: the packages' own, in the onedir unpacked as artifacts/salt."""
    return packages.layout.interpreter.replace(packages.layout.prefix, RUNNER, 1)


def stage_script(inputs: SuiteInputs, packages: PackageSet, files: list[str], box) -> str:
    """Shell that makes WORKDIR the suite's checkout: its tree from the sdist (without
    salt/ and doc/: Salt is the runner's), our packages in artifacts/pkg/, the runner in
    artifacts/salt with the requirements installed offline; then the box's repositories
    are set offline, as Salt's conftest refreshes them."""
    db = platform.of(box).packages
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
            f"{runner_interpreter(packages)} -m pip install -q --disable-pip-version-check "
            "--no-index --find-links wheels --no-deps -r requirements-lock.txt",
            f"printf %s {shlex.quote(PIP_CONF)} > /etc/pip.conf",
            db.offline_repositories(),
        ]
    )


def chunk_command(chunk: str, packages: PackageSet) -> str:
    """The pytest run of one chunk, its JUnit and log under artifacts/ as Salt's CI has them."""
    args = [
        *COMMON_ARGS,
        *SERVICE_ARGS,
        *CHUNKS[chunk],
        f"--junitxml={junit_of(chunk)}",
        f"--log-file={log_of(chunk)}",
        TESTS,
        *deselect_args(),
    ]
    pytest = f"{runner_interpreter(packages)} -m pytest {shlex.join(args)}"
    return f"cd {WORKDIR} && ONEDIR_TESTRUN=1 {pytest}"


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
