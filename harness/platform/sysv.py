"""SysV init with chkconfig and service (EL5 and EL6; the stand-ins of
harness/providers/nspawn/sysv_root.py on the glibc boxes and on centos6-rpm's Debian root)."""

from __future__ import annotations

from .base import InitSystem, Unsupported

COMMANDS = {
    # Each prints its answer as systemctl does (enabled/disabled, active/inactive) and exits
    # with the tool's own status (the script's LSB code for status: 3 when stopped).
    "is_enabled": "(chkconfig {unit} 2>/dev/null; rc=$?; "
    "if [ $rc = 0 ]; then echo enabled; else echo disabled; fi; exit $rc)",
    "is_active": "(service {unit} status >/dev/null 2>&1; rc=$?; "
    "if [ $rc = 0 ]; then echo active; else echo inactive; fi; exit $rc)",
    "main_pid": "cat /var/run/{unit}.pid 2>/dev/null || echo 0",
    "start": "service {unit} start",
    "stop": "service {unit} stop",
    "restart": "service {unit} restart",
    # LSB: the script's exit status is the whole verdict (0: stopped).
    "stop_outcome": "service {unit} stop >/dev/null 2>&1; "
    'rc=$?; echo "$rc $([ $rc = 0 ] && echo success || echo exit-code)"',
    "kill_start": "service {unit} restart",
    "enable": "chkconfig --add {unit} && chkconfig {unit} on",
    "disable": "chkconfig {unit} off",
    "state": "echo {unit} $(chkconfig --list {unit} 2>/dev/null | grep -q ':on' "
    "&& echo enabled || echo disabled) $(service {unit} status >/dev/null 2>&1 "
    "&& echo active || echo inactive)",
    "settle": "true",  # service runs its work before it returns
    "pending": "true",
    "init_script": "/etc/rc.d/init.d/{unit}",
    "status": "service {unit} status 2>&1; "
    "tail -n 8 /var/log/salt/$(echo {unit} | sed 's/^salt-//')",
}

UNSUPPORTED = {
    "mask": "masking (SysV has no masked state)",
    "slow_stop": "queued restarts (service runs each action before it returns)",
}


# EL's rc starts the enabled scripts while sshd already answers. A root whose PID 1 is
# systemd (centos6-rpm, where systemd runs EL's rc at boot) has booted once systemd says so;
# under svh-init (the glibc boxes) there is nothing to wait for.
BOOTED = "[ ! -d /run/systemd/system ] || systemctl is-system-running --wait >/dev/null"


class Sysv(InitSystem, kind="sysv", commands=COMMANDS, unsupported=UNSUPPORTED):
    admin_states = tuple(s for s in InitSystem.admin_states if s[0] != "masked")
    scripts_need_helpers = True
    script_runs_the_daemon = True
    subsys_locks = True

    def booted(self) -> str | None:
        return BOOTED

    def salt_service_module(self) -> str:
        family = self.box.salt_os_family
        if family == "RedHat":
            return "rh_service"  # EL5/6's service and chkconfig
        if family is None:
            raise Unsupported(f"{self.box.name}: Salt knows no distribution here")
        # A Debian root with EL's scripts (centos6-rpm): Salt goes by os-release and PID 1.
        raise Unsupported(
            f"{self.box.name}: Salt's service module follows the box's os-release and PID 1 "
            f"(os_family {family} under systemd: systemd_service), not the SysV scripts that "
            "run our daemons here"
        )

    def package_expectations(self, unit: str) -> tuple[list[tuple[str, str]], list[str]]:
        wanted = [
            (f"chkconfig --add {unit}", "%post"),
            (f"service {unit} stop", "%preun"),
            (f"chkconfig --del {unit}", "%preun"),
            (f"service {unit} status", "%postun"),  # marks a running one for
            (f"service {unit} condrestart", "%posttrans"),  # the restart at the end
            (f"/etc/rc.d/init.d/{unit}", "files"),
        ]
        return wanted, ["systemctl", ".service"]
