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
from .artifactory import CA_BUNDLE
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
# The chunks Salt's CI runs, each in a fresh box: upgrade and downgrade take the previous
# release from packages.broadcom.com (tests/support/pkg.py install_previous), which the box
# finds in itself: our older line's onedir set behind a stand-in (artifactory.py).
NOT_RUN = {"download-pkgs": "downloads Salt's published packages from its repositories"}
NO_OLDER_LINE = (
    "installs the previous release from packages.broadcom.com, stood in by our older "
    "line's onedir set, and none is built: harness build {box} --layout onedir --salt {salt}"
)


def chunks(prev_version: str | None) -> dict[str, tuple[str, ...]]:
    """The chunks a box runs: the upgrade and downgrade ones where an older line stands in
    for the previous release."""
    if prev_version is None:
        return {"install": ()}
    previous = f"--prev-version={prev_version}"
    return {
        "install": (),
        "upgrade": ("--upgrade", previous),
        "downgrade": ("--downgrade", previous),
    }


def not_run(box: str, older_salt: str, prev_version: str | None) -> dict[str, str]:
    if prev_version is not None:
        return dict(NOT_RUN)
    why = NO_OLDER_LINE.format(box=box, salt=older_salt)
    return {"upgrade": why, "downgrade": why, **NOT_RUN}


# What their tests install from PyPI with salt-pip (integration/test_pip.py,
# test_onedir_harden.py; upgrade/test_salt_upgrade.py's PyGithub 1.56.0 with what it needs
# beyond the payload's requests and cffi, downgrade/test_salt_downgrade.py's netaddr 0.8.0):
# served from the box's wheel directory through /etc/pip.conf, as an offline site's mirror
# would, so that those tests run here too. Locked without dependencies (the payload's serve),
# so PyGithub's own are named, wrapt held below 2 as Deprecated asks.
INSTALLED_BY_THEIR_TESTS = (
    "pep8",
    "saltext.vault==1.3.2",
    "PyGithub==1.56.0",
    "Deprecated",
    "wrapt<2",
    "PyJWT",
    "PyNaCl",
    "netaddr==0.8.0",
)
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
    NotApplicable(
        "upgrade/systemd/test_install_with_user.py::test_salt_user_ownership_preserved_on_upgrade",
        "Salt 3008's packages give the minion's trees, /etc/salt/minion.d among them, to the "
        "user it runs as at every upgrade, a file the admin wrote as root too; ours leave "
        "ownership as the admin set it (suites/test_lifecycle.py: an admin's ownership "
        "survives an upgrade)",
        r"Found root-owned files in /etc/salt/minion\.d after running salt-call/salt-pip",
    ),
)


def not_applicable(name: str, message: str) -> NotApplicable | None:
    """Why a failure of test `name` does not apply to our packages, if it does not."""
    return next((n for n in NOT_APPLICABLE if n.covers(name, message)), None)


# Their debian_disable_policy_rcd fixture (upgrade tests) sets aside the policy-rc.d that the
# container images of Salt's CI carry, and yields nothing (an error) where there is none, as
# on a booted box. One that allows every action is the same as none, and lets it run.
POLICY_RC_D = (
    "printf '#!/bin/sh\\nexit 0\\n' > /usr/sbin/policy-rc.d && chmod 755 /usr/sbin/policy-rc.d"
)


def deselect_args() -> list[str]:
    return [arg for d in DESELECTED for arg in ("--deselect", TESTS + d.test)]


def runner_interpreter(packages: PackageSet) -> str:
    """The runner's interpreter: the packages' own, in the onedir unpacked as artifacts/salt."""
    return packages.layout.interpreter.replace(packages.layout.prefix, RUNNER, 1)


def relocate_runner(packages: PackageSet) -> str:
    """A bundled interpreter finds its home by pyvenv.cfg, which names the prefix's bin/:
    moved to artifacts/salt, it must name the runner's (Salt's relenv onedir is relocatable
    as it is). A venv on the system's Python keeps its home."""
    prefix = packages.layout.prefix
    config = f"{RUNNER}/pyvenv.cfg"
    return f"[ ! -f {config} ] || sed -i 's|^home = {prefix}/bin$|home = {RUNNER}/bin|' {config}"


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
            relocate_runner(packages),
            f"cd {WORKDIR} && rm -rf /tmp/onedir",
            f"{runner_interpreter(packages)} -m pip install -q --disable-pip-version-check "
            "--no-index --find-links wheels --no-deps -r requirements-lock.txt",
            f"printf %s {shlex.quote(PIP_CONF)} > /etc/pip.conf",
            POLICY_RC_D,
            db.offline_repositories(),
        ]
    )


def chunk_command(chunk: str, packages: PackageSet, prev_version: str | None = None) -> str:
    """The pytest run of one chunk, its JUnit and log under artifacts/ as Salt's CI has them;
    requests (their download_file) trusts the box's CA store, where the stand-in's is."""
    args = [
        *COMMON_ARGS,
        *SERVICE_ARGS,
        *chunks(prev_version)[chunk],
        f"--junitxml={junit_of(chunk)}",
        f"--log-file={log_of(chunk)}",
        TESTS,
        *deselect_args(),
    ]
    pytest = f"{runner_interpreter(packages)} -m pytest {shlex.join(args)}"
    return f"cd {WORKDIR} && ONEDIR_TESTRUN=1 REQUESTS_CA_BUNDLE={CA_BUNDLE} {pytest}"


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
