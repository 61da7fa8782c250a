"""Salt master and minion daemons on boxes, run by the packages' own service units (or,
on a box without an init system, started by hand as daemons: salt's -d).

Readiness is waited for on the box, by a log line or a listening port, never by a fixed sleep.
"""

from __future__ import annotations

import json
import shlex

from harness import platform
from harness.errors import HarnessError
from harness.platform import Unsupported
from harness.transport import Machine

MINION_READY = "Minion is ready to receive requests"


def log_lines(machine: Machine, log: str) -> int:
    """How many lines `log` has now: a later wait only looks at what comes after."""
    out = machine.run(f"test -f {log} && wc -l < {log} || echo 0").stdout.strip()
    return int(out or 0)


def wait_for_log(machine: Machine, log: str, text: str, after_line: int, timeout: float = 90):
    """Block until `text` appears in `log` after line `after_line` (tail -F follows rotation)."""
    command = f"timeout {timeout:.0f} sh -c " + shlex.quote(
        f"tail -n +{after_line + 1} -F {log} 2>/dev/null | grep -q -m1 -F {shlex.quote(text)}"
    )
    if machine.run(command, check=False, timeout=timeout + 10).exit_status != 0:
        tail = machine.run(f"tail -n 15 {log} 2>&1", check=False).stdout
        raise HarnessError(
            f"box {machine.name}: '{text}' did not appear in {log} within "
            f"{timeout:.0f}s; its tail:\n{tail}"
        )


def wait_until(machine: Machine, condition: str, timeout: float, every: float = 0.1) -> bool:
    """Block until the shell `condition` holds on the box, tried every `every` seconds;
    False when it did not within `timeout`."""
    command = f"timeout {timeout:.0f} sh -c " + shlex.quote(
        f"until {condition}; do sleep {every:g}; done"
    )
    return machine.run(command, check=False, timeout=timeout + 10).exit_status == 0


def wait_for_port(machine: Machine, port: int, timeout: float = 90):
    # /proc/net/tcp{,6} (state 0A: listening), not ss: a busybox box has no ss.
    listening = (
        f"awk 'toupper($2) ~ /:{port:04X}$/ && $4 == \"0A\"' /proc/net/tcp /proc/net/tcp6 "
        "2>/dev/null | grep -q ."
    )
    if not wait_until(machine, listening, timeout):
        raise HarnessError(
            f"box {machine.name}: nothing listens on port {port} after {timeout:.0f}s"
        )


def restart_service(machine: Machine, unit: str, log: str, kill: bool = False):
    """Restart `unit` by the box's init system (`kill`: killed and started again); a
    failure shows the daemon's last words."""
    services = platform.of(machine.spec).services
    command = services.kill_start(unit) if kill else services.restart(unit)
    result = machine.run(command, check=False)
    if result.exit_status != 0:
        status = services.status(unit)
        tail = machine.run(f"tail -n 20 {log} 2>&1; {status}", check=False).stdout
        raise HarnessError(
            f"box {machine.name}: restarting {unit} exited {result.exit_status} "
            f"({result.stderr.strip()[-300:]}); its log and journal:\n{tail}"
        )


def enable_as_an_admin(machine: Machine, unit: str) -> None:
    """Enable `unit` as an admin does after installing it where the distribution's policy
    leaves it disabled (EL's presets); a box without an init system starts it by hand."""
    try:
        enable = platform.of(machine.spec).services.enable(unit)
    except Unsupported:
        return
    machine.run(f"{{ {enable}; }} >/dev/null 2>&1 || true")


def start_as_an_admin(machine: Machine, unit: str) -> None:
    """Enable (where the init system can) and start `unit`, as an admin does where the
    distribution's policy leaves it stopped."""
    enable_as_an_admin(machine, unit)
    restart_service(machine, unit, f"/var/log/salt/{unit.removeprefix('salt-')}")


class SaltMaster:
    """salt-master from our package, listening on the bridge."""

    log = "/var/log/salt/master"
    pending = "/etc/salt/pki/master/minions_pre"  # keys waiting for acceptance

    def __init__(self, machine: Machine, address: str, as_service: bool = True):
        self.machine = machine
        self.address = address
        self.as_service = as_service  # else started as `salt-master -d` (a venv without units)

    def start(self):
        self.machine.run("mkdir -p /etc/salt/master.d /srv/salt")
        # Checks write into /srv/salt and sync at once: a file list the master keeps for
        # 20 s (its default) would hide a file written right after another box's sync.
        self.machine.write_text(
            "/etc/salt/master.d/harness.conf",
            "interface: 0.0.0.0\nlog_level_logfile: info\nfileserver_list_cache_time: 0\n"
            "file_roots:\n  base:\n    - /srv/salt\n",
        )
        if self.as_service:
            start_as_an_admin(self.machine, "salt-master")
        else:
            self.machine.run("salt-master -d")
        wait_for_port(self.machine, 4505)
        wait_for_port(self.machine, 4506)

    def accept(self, minion_id: str, timeout: float = 90):
        """Accept the minion's key once it is pending (the real salt-key flow). The wait
        looks for the key's file: salt-key in a loop would start Python 5 times a second."""
        key = shlex.quote(f"{self.pending}/{minion_id}")
        if not wait_until(self.machine, f"test -s {key}", timeout):
            raise HarnessError(
                f"box {self.machine.name}: minion {minion_id}'s key never arrived "
                f"(salt-key -L on {self.machine.name})"
            )
        # Salt's key store deletes the pending file before it writes the accepted one: a
        # minion's auth in that gap writes it pending again, and pending wins from then on.
        # An admin seeing it still pending accepts it again; so does this.
        accept = f"salt-key -y -a {shlex.quote(minion_id)} >/dev/null"
        if not wait_until(self.machine, f"{{ {accept} && ! test -e {key}; }}", 30, every=1):
            raise HarnessError(
                f"box {self.machine.name}: minion {minion_id}'s key stays pending after "
                f"salt-key -a (salt-key -L on {self.machine.name})"
            )

    def salt(self, target: str, function: str, *args: str, timeout: int = 60) -> object:
        """Run a function on a minion and return its result, decoded from JSON."""
        command = self.salt_command(target, function, *args, timeout=timeout)
        result = self.machine.run(command, check=False, timeout=timeout + 30)
        try:
            returned = json.loads(result.stdout)
        except ValueError:
            raise HarnessError(
                f"`{command}` on {self.machine.name} exited {result.exit_status} "
                f"without JSON: {(result.stdout + result.stderr)[-400:]}"
            ) from None
        if target not in returned:
            raise HarnessError(
                f"`{command}` on {self.machine.name}: no return from {target}: {returned}"
            )
        return returned[target]

    def wait_for_version(self, target: str, version: str, timeout: float = 240) -> bool:
        """Block until `target` answers test.version with `version` (a minion that went away
        for its own upgrade comes back on its own); False when it did not in time."""
        ask = self.salt_command(target, "test.version", timeout=5)
        return wait_until(self.machine, f"{ask} | grep -q '\"{version}\"'", timeout, every=1)

    @staticmethod
    def salt_command(target: str, function: str, *args: str, timeout: int = 60) -> str:
        quoted = " ".join(shlex.quote(a) for a in args)
        return (
            f"salt --out=json --static -t {timeout} {shlex.quote(target)} {function} {quoted}"
        ).strip()


class SaltMinion:
    """salt-minion from our package, pointed at a master."""

    log = "/var/log/salt/minion"
    config = "/etc/salt/minion.d/harness.conf"  # the master and the id

    def __init__(self, machine: Machine, master: SaltMaster, minion_id: str = ""):
        self.machine = machine
        self.master = master
        self.id = minion_id or machine.name

    def configure(self):
        self.machine.run("mkdir -p /etc/salt/minion.d")
        self.machine.write_text(
            self.config,
            f"master: {self.master.address}\nid: {self.id}\n"
            "log_level_logfile: info\nacceptance_wait_time: 1\n",
        )

    def forget(self) -> None:
        """Delete the master's copy of this minion's key (a new key may come under its id)."""
        self.master.machine.run(f"salt-key -y -d {shlex.quote(self.id)} >/dev/null 2>&1 || true")

    def sign_in(self) -> None:
        """Point the minion at its master, have its (new) key accepted, wait until ready."""
        self.forget()
        self.configure()
        if not platform.of(self.machine.spec).starts_on_install:
            enable_as_an_admin(self.machine, "salt-minion")
        self.restart(accept=True, kill=True)

    def restart(self, accept: bool = False, kill: bool = False):
        """Restart the service (`kill`: kill and start it, when only the configuration
        matters) and wait until it is connected to its master."""
        mark = log_lines(self.machine, self.log)
        restart_service(self.machine, "salt-minion", self.log, kill)
        if accept:
            self.master.accept(self.id)
        wait_for_log(self.machine, self.log, MINION_READY, mark)
