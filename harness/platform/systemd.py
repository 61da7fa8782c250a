"""systemd, PID 1 of the Debian boxes and EL7."""

from __future__ import annotations

import shlex

from .base import InitSystem, Unsupported

COMMANDS = {
    "is_enabled": "systemctl is-enabled {unit}",
    "is_active": "systemctl is-active {unit}",
    "main_pid": "systemctl show -p MainPID --value {unit}",
    "start": "systemctl start {unit}",
    # A daemon stopped while it starts may exit non-zero: "failed" is not the admin's
    # "stopped", so the mark goes too.
    "stop": "systemctl stop {unit} && {{ systemctl reset-failed {unit} 2>/dev/null || true; }}",
    "restart": "systemctl restart {unit}",
    # Result: success, or timeout, signal, exit-code, core-dump (systemd.exec(5)).
    "stop_outcome": 'systemctl stop {unit}; echo "$? $(systemctl show -p Result --value {unit})"',
    # Every process of the unit (v247's and later); a unit never started since its
    # package went in (EL's presets) has nothing to kill, and start says if it is missing.
    "kill_start": "{{ systemctl kill -s SIGKILL {unit} 2>/dev/null || true; }} && "
    "timeout 30 sh -c 'while systemctl is-active -q {unit}; do sleep 0.05; done' && "
    "{{ systemctl reset-failed {unit} 2>/dev/null; systemctl start {unit}; }}",
    "enable": "systemctl unmask {unit} && systemctl enable {unit}",
    "disable": "systemctl unmask {unit} && systemctl disable {unit}",
    "mask": "systemctl mask {unit}",
    "state": "echo {unit} $(systemctl is-enabled {unit}) $(systemctl is-active {unit})",
    "settle": "timeout 120 sh -c "
    "'while systemctl list-jobs --no-legend | grep -q .; do sleep 0.2; done'",
    "status": "systemctl status {unit} --no-pager -l 2>&1 | tail -n 8",
    "slow_stop": "mkdir -p /etc/systemd/system/{unit}.service.d && "
    "printf '[Service]\\nExecStopPost=/bin/sleep 5\\n' "
    "> /etc/systemd/system/{unit}.service.d/slow-stop.conf && systemctl daemon-reload",
    "pending": "systemctl list-jobs --no-legend --no-pager | grep -E ' salt-[a-z]+[.]service ' "
    "|| true",
}

# /lib/lsb/init-functions hands a script's action to the daemon's unit when systemd runs
# the box, unless told not to: the script itself, as a box booted with sysvinit runs it.
SCRIPT_ITSELF = "SYSTEMCTL_SKIP_REDIRECT=1 _SYSTEMCTL_SKIP_REDIRECT=1 /etc/init.d/{unit}"


class Systemd(InitSystem, kind="systemd", commands=COMMANDS):
    def _unsupported(self, what: str) -> Unsupported:
        return Unsupported(f"{self.box.name} runs systemd: no {what}")

    def init_script(self, unit: str) -> str:
        """Our DEBs carry an LSB script for each daemon, as Salt's do; our RPMs for systemd
        carry units only."""
        if self.box.package_format != "deb":
            raise self._unsupported("SysV init script (its daemons are systemd units)")
        return SCRIPT_ITSELF.format(unit=shlex.quote(unit))

    def booted(self) -> str | None:
        return "systemctl is-system-running --wait >/dev/null"

    def journal(self, lines: int) -> str | None:
        return f"journalctl --no-pager -n {lines}"

    def salt_service_module(self) -> str:
        return "systemd_service"

    def apart(self, command: str) -> str:
        # A unit's stop ends its whole cgroup: a scope of its own, as Salt's yumpkg runs yum.
        return f"systemd-run --scope --quiet sh -c {shlex.quote(command)}"

    def package_expectations(self, unit: str) -> tuple[list[tuple[str, str]], list[str]]:
        wanted = [
            ("preset", "%post"),
            (f"{unit}.service", "%post"),
            ("disable", "%preun"),
            ("stop", "%preun"),
            (f"is-active {unit}.service", "%postun"),  # marks a running one for
            ("try-restart", "%posttrans"),  # the restart once the transaction is over
            (f"/usr/lib/systemd/system/{unit}.service", "files"),
        ]
        return wanted, ["chkconfig", "init.d"]
