"""No init system (centos7-abi: PID 1 only brings up the network and dropbear): the suites
start our daemons by hand, with salt's -d, and find them by their pid files."""

from __future__ import annotations

from .base import InitSystem


def _stop(unit: str) -> str:
    return (
        f"if [ -f /var/run/{unit}.pid ]; then pid=$(cat /var/run/{unit}.pid); "
        "kill $pid 2>/dev/null; while kill -0 $pid 2>/dev/null; do sleep 0.1; done; "
        f"rm -f /var/run/{unit}.pid; fi"
    )


class NoInit(InitSystem, kind="none"):
    starts_on_install = False  # nothing runs the packages' scriptlets either

    def is_enabled(self, unit: str) -> str:
        raise self._unsupported("enabled state")

    def is_active(self, unit: str) -> str:
        raise self._unsupported("active state")

    def main_pid(self, unit: str) -> str:
        return f"cat /var/run/{unit}.pid 2>/dev/null || echo 0"

    def start(self, unit: str) -> str:
        return f"/usr/bin/{unit} -d"  # the daemon forks itself and writes its pid file

    def stop(self, unit: str) -> str:
        return _stop(unit)

    def restart(self, unit: str) -> str:
        return f"{_stop(unit)}; {self.start(unit)}"

    def kill_start(self, unit: str) -> str:
        return self.restart(unit)  # the pid file names only the first process

    def stop_outcome(self, unit: str) -> str:
        raise self._unsupported("stop of its own (the suites kill the daemon)")

    def enable(self, unit: str) -> str:
        raise self._unsupported("enable")

    def disable(self, unit: str) -> str:
        raise self._unsupported("disable")

    def mask(self, unit: str) -> str:
        raise self._unsupported("mask")

    def state(self, unit: str) -> str:
        raise self._unsupported("state")

    def settle(self) -> str:
        return "true"

    def status(self, unit: str) -> str:
        return f"tail -n 8 /var/log/salt/{unit.removeprefix('salt-')}"

    def package_expectations(self, unit: str) -> tuple[list[tuple[str, str]], list[str]]:
        raise self._unsupported("package scriptlets")
