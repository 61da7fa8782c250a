"""systemd, PID 1 of the Debian boxes and EL7."""

from __future__ import annotations

from .base import InitSystem


class Systemd(InitSystem, kind="systemd"):
    def is_enabled(self, unit: str) -> str:
        return f"systemctl is-enabled {unit}"

    def is_active(self, unit: str) -> str:
        return f"systemctl is-active {unit}"

    def main_pid(self, unit: str) -> str:
        return f"systemctl show -p MainPID --value {unit}"

    def start(self, unit: str) -> str:
        return f"systemctl start {unit}"

    def stop(self, unit: str) -> str:
        # A daemon stopped while it starts may exit non-zero: "failed" is not the admin's
        # "stopped", so the mark goes too.
        return f"systemctl stop {unit} && {{ systemctl reset-failed {unit} 2>/dev/null || true; }}"

    def restart(self, unit: str) -> str:
        return f"systemctl restart {unit}"

    def stop_outcome(self, unit: str) -> str:
        # Result: success, or timeout, signal, exit-code, core-dump (systemd.exec(5)).
        return f'systemctl stop {unit}; echo "$? $(systemctl show -p Result --value {unit})"'

    def kill_start(self, unit: str) -> str:
        # Every process of the unit (v247's and later); a unit never started since its
        # package went in (EL's presets) has nothing to kill, and start says if it is missing.
        return (
            f"{{ systemctl kill -s SIGKILL {unit} 2>/dev/null || true; }} && "
            f"timeout 30 sh -c 'while systemctl is-active -q {unit}; do sleep 0.05; done' && "
            f"{{ systemctl reset-failed {unit} 2>/dev/null; systemctl start {unit}; }}"
        )

    def enable(self, unit: str) -> str:
        return f"systemctl unmask {unit} && systemctl enable {unit}"

    def disable(self, unit: str) -> str:
        return f"systemctl unmask {unit} && systemctl disable {unit}"

    def mask(self, unit: str) -> str:
        return f"systemctl mask {unit}"

    def state(self, unit: str) -> str:
        return f"echo {unit} $(systemctl is-enabled {unit}) $(systemctl is-active {unit})"

    def settle(self) -> str:
        jobs = "systemctl list-jobs --no-legend | grep -q ."
        return f"timeout 120 sh -c 'while {jobs}; do sleep 0.2; done'"

    def status(self, unit: str) -> str:
        return f"systemctl status {unit} --no-pager -l 2>&1 | tail -n 8"

    def booted(self) -> str | None:
        return "systemctl is-system-running --wait >/dev/null"

    def journal(self, lines: int) -> str | None:
        return f"journalctl --no-pager -n {lines}"

    def package_expectations(self, unit: str) -> tuple[list[tuple[str, str]], list[str]]:
        wanted = [
            ("preset", "%post"),
            (f"{unit}.service", "%post"),
            ("disable", "%preun"),
            ("stop", "%preun"),
            ("try-restart", "%postun"),
            (f"/usr/lib/systemd/system/{unit}.service", "files"),
        ]
        return wanted, ["chkconfig", "init.d"]
