"""`harness diagnose BOX`: the conflict map of one running box. For every library the
distribution ships and Salt bundles: which copy each interpreter imports, at which version."""

from __future__ import annotations

import json
import shlex
from dataclasses import dataclass

from harness.transport import Machine

OPT_PYTHON = "/opt/salt/bin/python3"
# Prints [file, version] of a module, or [null, error] when it does not import.
PROBE = (
    "import json, sys\n"
    "try:\n"
    "    m = __import__(sys.argv[1]); "
    "v = getattr(m, '__version__', None) or getattr(m, 'version', None)\n"
    "    print(json.dumps([m.__file__, str(v)]))\n"
    "except Exception as e:\n"
    "    print(json.dumps([None, '%s: %s' % (type(e).__name__, e)]))\n"
)


@dataclass
class Row:
    module: str
    package: str
    catalog_version: str
    distro_version: str
    system_import: str
    system_version: str
    opt_import: str
    opt_version: str

    @property
    def isolated(self) -> bool:
        return self.system_import.startswith("/usr/lib/python3") and self.opt_import.startswith(
            "/opt/salt/"
        )


def _probe(machine: Machine, python: str, module: str) -> tuple[str, str]:
    command = f"{python} -c {shlex.quote(PROBE)} {shlex.quote(module)}"
    result = machine.run(command, check=False)
    try:
        where, version = json.loads(result.stdout)
    except ValueError:
        return "-", (result.stderr.strip().splitlines() or ["no output"])[-1]
    return where or "-", version


def conflict_map(machine: Machine) -> tuple[list[Row], bool]:
    """Rows per conflict library, and whether /opt/salt is installed at all."""
    has_opt = machine.run(f"test -x {OPT_PYTHON}", check=False).ok
    rows = []
    spec = machine.spec
    assert spec is not None, f"{machine.name} has no catalog entry"
    for lib in spec.conflicts:
        distro = (
            machine.run(
                f"dpkg-query -W -f '${{Version}}' {lib.package} 2>/dev/null || "
                f"rpm -q --qf '%{{VERSION}}-%{{RELEASE}}' {lib.package} 2>/dev/null",
                check=False,
            ).stdout.strip()
            or "not installed"
        )
        # A box lists conflicts only for its distribution's Python (catalog: centos7-abi has none).
        assert spec.python.path is not None, f"{spec.name}: conflicts without a system Python"
        sys_where, sys_version = _probe(machine, spec.python.path, lib.module)
        opt_where, opt_version = _probe(machine, OPT_PYTHON, lib.module) if has_opt else ("-", "-")
        rows.append(
            Row(
                lib.module,
                lib.package,
                lib.version,
                distro,
                sys_where,
                sys_version,
                opt_where,
                opt_version,
            )
        )
    return rows, has_opt


def opt_sys_path(machine: Machine) -> list[str]:
    result = machine.run(
        f"{OPT_PYTHON} -c 'import sys, json; print(json.dumps(sys.path))'", check=False
    )
    return json.loads(result.stdout) if result.ok else []
