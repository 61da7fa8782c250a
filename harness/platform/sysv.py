"""SysV init with chkconfig and service (EL5 and EL6)."""

from __future__ import annotations

from .base import InitSystem


class Sysv(InitSystem, kind="sysv"):
    def is_enabled(self, unit: str) -> str:
        return f"chkconfig --list {unit} | grep -q ':on'"

    def is_active(self, unit: str) -> str:
        return f"service {unit} status"

    def main_pid(self, unit: str) -> str:
        return f"cat /var/run/{unit}.pid 2>/dev/null || echo 0"

    def start(self, unit: str) -> str:
        return f"service {unit} start"

    def stop(self, unit: str) -> str:
        return f"service {unit} stop"

    def restart(self, unit: str) -> str:
        return f"service {unit} restart"

    def stop_outcome(self, unit: str) -> str:
        # LSB: the script's exit status is the whole verdict (0: stopped).
        return (
            f"service {unit} stop >/dev/null 2>&1; "
            'rc=$?; echo "$rc $([ $rc = 0 ] && echo success || echo exit-code)"'
        )

    def kill_start(self, unit: str) -> str:
        return f"service {unit} restart"

    def enable(self, unit: str) -> str:
        return f"chkconfig --add {unit} && chkconfig {unit} on"

    def disable(self, unit: str) -> str:
        return f"chkconfig {unit} off"

    admin_states = tuple(s for s in InitSystem.admin_states if s[0] != "masked")

    def mask(self, unit: str) -> str:
        raise self._unsupported("masking (SysV has no masked state)")

    def state(self, unit: str) -> str:
        on = f"chkconfig --list {unit} 2>/dev/null | grep -q ':on'"
        enabled = f"$({on} && echo enabled || echo disabled)"
        active = f"$(service {unit} status >/dev/null 2>&1 && echo active || echo inactive)"
        return f"echo {unit} {enabled} {active}"

    def settle(self) -> str:
        return "true"  # service runs its work before it returns

    def status(self, unit: str) -> str:
        return f"service {unit} status 2>&1; tail -n 8 /var/log/salt/{unit.removeprefix('salt-')}"

    def package_expectations(self, unit: str) -> tuple[list[tuple[str, str]], list[str]]:
        wanted = [
            (f"chkconfig --add {unit}", "%post"),
            (f"service {unit} stop", "%preun"),
            (f"chkconfig --del {unit}", "%preun"),
            (f"service {unit} condrestart", "%postun"),
            (f"/etc/rc.d/init.d/{unit}", "files"),
        ]
        return wanted, ["systemctl", ".service"]
