"""What the suites ask a box's package database and init system, as shell commands for that
box (testinfra's Package and Service split): dpkg or rpm, systemd, SysV or none.

A box without a package database (centos7-abi: RPMs unpacked with rpm2cpio) or without an
init system (daemons started by hand) has no answer to some questions: those raise
Unsupported with the reason, and the suites skip the check with it.
"""

from __future__ import annotations

import shlex

from harness.catalog import Box


class Unsupported(Exception):
    """This box cannot answer the question; str() says why."""


def _q(names: list[str]) -> str:
    return " ".join(shlex.quote(n) for n in names)


class PackageDb:
    """Queries of the box's package database."""

    def __init__(self, spec: Box):
        self.spec = spec
        self.kind = spec.package_format if spec.package_manager != "none" else "none"

    def _need(self, what: str) -> None:
        if self.kind == "none":
            raise Unsupported(
                f"{self.spec.name} has no package database (its RPMs are unpacked with "
                f"rpm2cpio): no {what}"
            )

    def installed(self, names: list[str]) -> str:
        """One line per package: NAME VERSION (only installed ones)."""
        self._need("installed-package query")
        if self.kind == "rpm":
            query = "rpm -q --qf '%{NAME} %{VERSION}-%{RELEASE}\\n'"
            return f"{query} {_q(names)} | grep -v 'not installed' || true"
        return (
            "dpkg-query -W -f '${Package} ${Version} ${Status}\\n' "
            f"{_q(names)} 2>/dev/null | grep ' installed$' | cut -d' ' -f1,2 || true"
        )

    def files(self, names: list[str]) -> str:
        """Every path the packages own, one a line."""
        self._need("file list")
        return f"rpm -ql {_q(names)}" if self.kind == "rpm" else f"dpkg-query -L {_q(names)}"

    def verify(self, names: list[str]) -> str:
        """Lines for files that changed since install (empty: clean)."""
        self._need("verification")
        if self.kind == "rpm":
            return f"rpm -V {_q(names)} || true"
        return f"dpkg --verify {_q(names)} || true"

    def conffiles(self, names: list[str]) -> str:
        """The packages' configuration files (deb conffiles, rpm %config), one a line."""
        self._need("conffile list")
        if self.kind == "rpm":
            return f"rpm -qc {_q(names)}"
        return f"dpkg-query -W -f '${{Conffiles}}\\n' {_q(names)} | awk 'NF {{print $1}}'"

    def unmet_requirements(self, names: list[str]) -> str:
        """Prints each dependency of the packages that nothing installed provides."""
        self._need("dependency check")
        if self.kind == "rpm":
            return (
                f"rpm -qR {_q(names)} | grep -v '^rpmlib(' | awk '{{print $1}}' | sort -u "
                "| while read -r req; do "
                'rpm -q --whatprovides "$req" >/dev/null 2>&1 || echo "$req"; done'
            )
        ours = "|".join(names)
        return (
            f"apt-get check -q >&2 && dpkg-query -W -f '${{Depends}}\\n' {_q(names)} "
            "| tr ',|' '\\n\\n' | sed 's/^ *//; s/[ (:].*//' | grep . | sort -u "
            f"| grep -vxE '{ours}' | while read -r dep; do "
            "[ \"$(dpkg-query -W -f '${Status}' \"$dep\" 2>/dev/null)\" = 'install ok installed' ]"
            ' || echo "$dep"; done'
        )

    def owner(self, path: str) -> str:
        """The package owning path (empty when none does)."""
        self._need("file owner query")
        if self.kind == "rpm":
            return f"rpm -qf --qf '%{{NAME}}\\n' {shlex.quote(path)} 2>/dev/null || true"
        return f"dpkg -S {shlex.quote(path)} 2>/dev/null | cut -d: -f1 || true"


class ServiceManager:
    """The box's init system, for our daemons (salt-minion, salt-master)."""

    def __init__(self, spec: Box):
        self.spec = spec
        self.kind = spec.init

    def _need(self, what: str) -> None:
        if self.kind == "none":
            raise Unsupported(f"{self.spec.name} has no init system: no {what}")

    def is_enabled(self, unit: str) -> str:
        self._need("service enablement")
        if self.kind == "sysv":
            return f"chkconfig --list {unit} | grep -q ':on'"
        return f"systemctl is-enabled {unit}"

    def is_active(self, unit: str) -> str:
        self._need("service state")
        if self.kind == "sysv":
            return f"service {unit} status"
        return f"systemctl is-active {unit}"

    def main_pid(self, unit: str) -> str:
        """The daemon's PID (0 when it does not run)."""
        if self.kind == "systemd":
            return f"systemctl show -p MainPID --value {unit}"
        pidfile = f"/var/run/{unit}.pid"
        return f"cat {pidfile} 2>/dev/null || echo 0"

    def restart(self, unit: str) -> str:
        if self.kind == "systemd":
            return f"systemctl restart {unit}"
        if self.kind == "sysv":
            return f"service {unit} restart"
        return f"{self.stop(unit)}; {self.start(unit)}"

    def start(self, unit: str) -> str:
        if self.kind == "systemd":
            return f"systemctl start {unit}"
        if self.kind == "sysv":
            return f"service {unit} start"
        # No init: the daemon forks itself and writes its pid file (salt's -d).
        return f"/usr/bin/{unit} -d"

    def stop(self, unit: str) -> str:
        if self.kind == "systemd":
            return f"systemctl stop {unit}"
        if self.kind == "sysv":
            return f"service {unit} stop"
        pidfile = f"/var/run/{unit}.pid"
        return (
            f"if [ -f {pidfile} ]; then pid=$(cat {pidfile}); kill $pid 2>/dev/null; "
            f"while kill -0 $pid 2>/dev/null; do sleep 0.1; done; rm -f {pidfile}; fi"
        )
