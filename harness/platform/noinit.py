"""No init system (centos7-abi: PID 1 only brings up the network and dropbear): the suites
start our daemons by hand, with salt's -d, and find them by their pid files."""

from __future__ import annotations

from .base import InitSystem

STOP = (
    "if [ -f /var/run/{unit}.pid ]; then pid=$(cat /var/run/{unit}.pid); "
    "kill $pid 2>/dev/null; while kill -0 $pid 2>/dev/null; do sleep 0.1; done; "
    "rm -f /var/run/{unit}.pid; fi"
)
START = "/usr/bin/{unit} -d"  # the daemon forks itself and writes its pid file


COMMANDS = {
    "main_pid": "cat /var/run/{unit}.pid 2>/dev/null || echo 0",
    "start": START,
    "stop": STOP,
    "restart": f"{STOP}; {START}",
    "kill_start": f"{STOP}; {START}",  # the pid file names only the first process
    "settle": "true",
    "pending": "true",
    "status": "tail -n 8 /var/log/salt/$(echo {unit} | sed 's/^salt-//')",
}

UNSUPPORTED = {
    "is_enabled": "enabled state",
    "is_active": "active state",
    "stop_outcome": "stop of its own (the suites kill the daemon)",
    "enable": "enable",
    "disable": "disable",
    "mask": "mask",
    "state": "state",
    "init_script": "init script",
    "slow_stop": "unit to slow down",
}


class NoInit(InitSystem, kind="none", commands=COMMANDS, unsupported=UNSUPPORTED):
    starts_on_install = False  # nothing runs the packages' scriptlets either

    def package_expectations(self, unit: str) -> tuple[list[tuple[str, str]], list[str]]:
        raise self._unsupported("package scriptlets")
