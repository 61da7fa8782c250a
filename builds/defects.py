"""Deliberately broken package sets, one classic venv-packaging failure each, to prove that
the verifier catches it. A defect build differs from the good build only in the way its
name says; the staging code (payload.py) applies it, so every package format gets it.
"""

from __future__ import annotations

from .errors import BuildError

DEFECTS: dict[str, str] = {
    "system-site-packages": "the venv sees the distribution's dist-packages",
    "buildroot-paths": "a build path is left in the scripts' shebangs and in pyvenv.cfg",
    "ld-export": "an /etc/ld.so.conf.d entry exports /opt/salt's libraries to the whole system",
    "wrapper-pythonpath": (
        "the /usr/bin wrappers put the distribution's dist-packages on PYTHONPATH"
    ),
    "missing-dep": "msgpack is left out of the venv",
    "unit-path": "the salt-minion unit's ExecStart points to a path that does not exist",
    "conffile": "/etc/salt/minion is not a conffile, so an upgrade overwrites local edits",
    "distro-clobber": (
        "the post-install script replaces a file of the distribution's python3-tornado"
    ),
    "service-state": (
        "the post-install script unmasks, enables and restarts every unit, whatever the admin chose"
    ),
    "upgrade-stops": (
        "the pre-install script stops the daemons before an upgrade (the post-install only "
        "restarts running ones), so a minion that upgrades itself never comes back"
    ),
    "world-writable": "a directory of Salt's code under /opt/salt is writable by every user",
    "root-only": "a directory of Salt's code under /opt/salt is readable by root only",
    "runtime-writes": (
        "the payload ships no bytecode, so Salt's first runs write .pyc files into /opt/salt"
    ),
    "conffile-prompt": (
        "/etc/salt/minion names the Salt version, so every upgrade over a local edit asks "
        "the admin at a conffile prompt"
    ),
    "extras-wiped": "the post-install script empties salt-pip's extras, so an upgrade loses them",
    "version-stamp": "Salt's version stamp (salt/_version.txt) names another version",
    # Portable payloads (centos7) only: what the ABI ceiling and the glibc 2.17 box catch.
    "build-glibc": (
        "Salt's dependencies are taken for the build box's glibc (2.36), not the target's 2.17: "
        "cryptography and pyzmq arrive linked against a newer glibc"
    ),
    "system-libssl": (
        "the bundled CPython takes libssl and libcrypto from the system: /opt/salt's own "
        "copies are left out"
    ),
}
PORTABLE = {"build-glibc", "system-libssl"}

# Where each defect's broken value points; the tests look for exactly these.
FAKE_BUILD_ROOT = "/var/tmp/svh-buildroot"
MISSING_UNIT_EXEC = "/usr/local/bin/salt-minion"
DISTRO_DIST_PACKAGES = "/usr/lib/python3/dist-packages"
CLOBBERED_FILE = DISTRO_DIST_PACKAGES + "/tornado/__init__.py"
STALE_SALT_VERSION = "3008.0"


def check(name: str | None, portable: bool | None = None) -> str | None:
    """The defect's name, if it is known and (given whether the box's payload is portable)
    applies to the box."""
    if name is not None and name not in DEFECTS:
        known = ", ".join(DEFECTS)
        raise BuildError(f"unknown defect {name!r} (known: {known}; see --list-defects)")
    if name in PORTABLE and portable is False:
        raise BuildError(
            f"defect {name} breaks a portable payload: build it for centos7 "
            f"(harness build centos7 --defect {name})"
        )
    if name is not None and name not in PORTABLE and portable:
        raise BuildError(
            f"defect {name} is a variant of the Debian packages: build it for a Debian box; "
            f"portable payloads have {', '.join(sorted(PORTABLE))}"
        )
    return name


def listing() -> str:
    width = max(map(len, DEFECTS))
    boxes = {name: "centos7" if name in PORTABLE else "debian" for name in DEFECTS}
    return "\n".join(f"{name:<{width}}  {boxes[name]:<7}  {text}" for name, text in DEFECTS.items())
