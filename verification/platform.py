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

    def unfinished(self, names: list[str]) -> str:
        """Lines for packages an interrupted transaction left behind (empty: none)."""
        self._need("audit")
        if self.kind == "rpm":  # rpm has no half-configured state: files that differ
            return f"rpm -V --nodeps {_q(names)} || true"
        return "dpkg --audit || true"

    def verify(self, names: list[str]) -> str:
        """Lines for files that changed since install (empty: clean)."""
        self._need("verification")
        if self.kind == "rpm":  # files only: dependencies are the dependency check's
            return f"rpm -V --nodeps {_q(names)} || true"
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


# What each init system runs for our daemons; a box without one starts them by hand.
SERVICE_COMMANDS = {
    "systemd": {
        "enabled": "systemctl is-enabled {unit}",
        "active": "systemctl is-active {unit}",
        "pid": "systemctl show -p MainPID --value {unit}",
        "start": "systemctl start {unit}",
        "stop": "systemctl stop {unit}",
        "restart": "systemctl restart {unit}",
        # The daemon killed and started again: for the harness's own reconfiguration, where a
        # clean salt-minion stop would cost seconds (the restart check uses "restart").
        "kill_start": (
            "systemctl kill -s SIGKILL {unit} && "  # every process of the unit (v247's and later)
            "timeout 30 sh -c 'while systemctl is-active -q {unit}; do sleep 0.05; done' && "
            "{{ systemctl reset-failed {unit} 2>/dev/null; systemctl start {unit}; }}"
        ),
    },
    "sysv": {
        "enabled": "chkconfig --list {unit} | grep -q ':on'",
        "active": "service {unit} status",
        "pid": "cat /var/run/{unit}.pid 2>/dev/null || echo 0",
        "start": "service {unit} start",
        "stop": "service {unit} stop",
        "restart": "service {unit} restart",
        "kill_start": "service {unit} restart",
    },
    "none": {
        "pid": "cat /var/run/{unit}.pid 2>/dev/null || echo 0",
        # salt's -d: the daemon forks itself and writes its pid file.
        "start": "/usr/bin/{unit} -d",
        "stop": (
            "if [ -f /var/run/{unit}.pid ]; then pid=$(cat /var/run/{unit}.pid); "
            "kill $pid 2>/dev/null; while kill -0 $pid 2>/dev/null; do sleep 0.1; done; "
            "rm -f /var/run/{unit}.pid; fi"
        ),
        "restart": "{stop}; {start}",
        "kill_start": "{stop}; {start}",  # the pid file names only the first process
    },
}


class ServiceManager:
    """The box's init system, for our daemons (salt-minion, salt-master)."""

    def __init__(self, spec: Box):
        self.spec = spec
        self.kind = spec.init

    def _command(self, action: str, unit: str) -> str:
        commands = SERVICE_COMMANDS[self.kind]
        if action not in commands:
            raise Unsupported(f"{self.spec.name} has no init system: no service {action} state")
        return commands[action].format(
            unit=unit,
            start=commands.get("start", "").format(unit=unit),
            stop=commands.get("stop", "").format(unit=unit),
        )

    def is_enabled(self, unit: str) -> str:
        return self._command("enabled", unit)

    def is_active(self, unit: str) -> str:
        return self._command("active", unit)

    def main_pid(self, unit: str) -> str:
        """The daemon's PID (0 when it does not run)."""
        return self._command("pid", unit)

    def start(self, unit: str) -> str:
        return self._command("start", unit)

    def stop(self, unit: str) -> str:
        return self._command("stop", unit)

    def restart(self, unit: str) -> str:
        return self._command("restart", unit)

    def kill_start(self, unit: str) -> str:
        return self._command("kill_start", unit)
