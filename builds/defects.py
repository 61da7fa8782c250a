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
}

# Where each defect's broken value points; the tests look for exactly these.
FAKE_BUILD_ROOT = "/var/tmp/svh-buildroot"
MISSING_UNIT_EXEC = "/usr/local/bin/salt-minion"
DISTRO_DIST_PACKAGES = "/usr/lib/python3/dist-packages"
CLOBBERED_FILE = DISTRO_DIST_PACKAGES + "/tornado/__init__.py"


def check(name: str | None) -> str | None:
    if name is None or name in DEFECTS:
        return name
    raise BuildError(f"unknown defect {name!r} (known: {', '.join(DEFECTS)}; see --list-defects)")


def listing() -> str:
    width = max(map(len, DEFECTS))
    return "\n".join(f"{name:<{width}}  {text}" for name, text in DEFECTS.items())
