"""`harness diagnose BOX`: the conflict map of one running box. For every library the
distribution ships and Salt bundles: which copy each interpreter imports, at which version."""

from __future__ import annotations

import json
import shlex
from dataclasses import dataclass

from harness import platform
from harness.platform import Unsupported
from harness.transport import Machine

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
        """Each interpreter imports its own copy: the system's from outside /opt/salt."""
        ours = f"{platform.PREFIX}/"
        return (
            self.system_import.startswith("/")
            and not self.system_import.startswith(ours)
            and self.opt_import.startswith(ours)
        )


def _probe(machine: Machine, python: str, module: str) -> tuple[str, str]:
    command = f"{python} -c {shlex.quote(PROBE)} {shlex.quote(module)}"
    result = machine.run(command, check=False)
    try:
        where, version = json.loads(result.stdout)
    except ValueError:
        return "-", (result.stderr.strip().splitlines() or ["no output"])[-1]
    return where or "-", version


def _distro_version(machine: Machine, packages: platform.PackageDb, package: str) -> str:
    try:
        query = packages.version_of(package)
    except Unsupported:
        return "no package database"
    return machine.run(query, check=False).stdout.strip() or "not installed"


def conflict_map(machine: Machine) -> tuple[list[Row], bool]:
    """Rows per conflict library, and whether /opt/salt is installed at all."""
    spec = machine.spec
    on_box = platform.of(spec)
    opt_python = on_box.layout.interpreter
    has_opt = machine.run(f"test -x {opt_python}", check=False).ok
    rows = []
    for lib in spec.conflicts:
        distro = _distro_version(machine, on_box.packages, lib.package)
        # A box lists conflicts only for its distribution's Python (catalog: centos7-abi has none).
        assert spec.python.path is not None, f"{spec.name}: conflicts without a system Python"
        sys_where, sys_version = _probe(machine, spec.python.path, lib.module)
        opt_where, opt_version = _probe(machine, opt_python, lib.module) if has_opt else ("-", "-")
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
    python = platform.of(machine.spec).layout.interpreter
    result = machine.run(
        f"{python} -c 'import sys, json; print(json.dumps(sys.path))'", check=False
    )
    return json.loads(result.stdout) if result.ok else []
