"""A testinfra backend over the harness's own SSH connection, so suites use testinfra's
modules (host.package, host.service, host.file, ...) on any box of any provider."""

from __future__ import annotations

from typing import Any

import testinfra.host
from testinfra.backend.base import BaseBackend, CommandResult

from harness.transport import Machine


class HarnessBackend(BaseBackend):
    NAME = "harness"

    def __init__(self, machine: Machine, *args: Any, **kwargs: Any):
        self.machine = machine
        super().__init__(machine.name, *args, **kwargs)

    def run(self, command: str, *args: str, **kwargs: Any) -> CommandResult:
        command = self.get_command(command, *args)
        result = self.machine.run(command, check=False)
        return self.result(result.exit_status, self.encode(command), result.stdout, result.stderr)

    def get_hostname(self) -> str:
        return self.machine.name


def testinfra_host(machine: Machine) -> testinfra.host.Host:
    return testinfra.host.Host(HarnessBackend(machine))
