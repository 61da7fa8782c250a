"""Fixtures for the harness's own tests."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import pytest

HARNESS = [sys.executable, "-m", "signoff.cli"]


@dataclass
class HarnessRun:
    """`harness` as a user runs it, in a namespace of its own (state dir, bridge, subnet), so
    tests that tear everything down never touch boxes started outside the test run."""

    env: dict[str, str]
    state_dir: Path

    def __call__(
        self, *args: str, check: bool = True, env: dict | None = None, timeout: float = 300
    ) -> subprocess.CompletedProcess:
        proc = subprocess.run(
            [*HARNESS, *args],
            capture_output=True,
            text=True,
            timeout=timeout,
            env={**self.env, **(env or {})},
        )
        if check and proc.returncode != 0:
            pytest.fail(
                f"harness {' '.join(args)} exited {proc.returncode}:\n{proc.stdout}{proc.stderr}",
                pytrace=False,
            )
        return proc

    def verify(self, *args: str, suffix: str, timeout: float) -> tuple[dict, str]:
        """`harness verify ARGS` with its boxes named apart (SVH_INSTANCE_SUFFIX): the
        report's summary.json and the run's stdout. A verdict of FAIL is a result; a
        traceback or a run without a report fails the test."""
        result = self(
            "verify", *args, check=False, timeout=timeout, env={"SVH_INSTANCE_SUFFIX": suffix}
        )
        assert result.returncode in (0, 1), result.stdout[-3000:] + result.stderr
        assert "Traceback" not in result.stderr, result.stderr
        found = re.search(r"report: (\S+)/report\.html", result.stdout)
        assert found, result.stdout[-2000:] + result.stderr
        return json.loads((Path(found.group(1)) / "summary.json").read_text()), result.stdout

    def address(self, up_output: str, name: str) -> str:
        found = re.search(rf"^{re.escape(name)}: up at \w+@([\d.]+):", up_output, re.M)
        assert found, f"no address for {name} in: {up_output}"
        return found.group(1)


@pytest.fixture(scope="module")
def harness_run(tmp_path_factory):
    slot = os.getpid() % 200 + 20
    state_dir = tmp_path_factory.mktemp("state")
    env = dict(
        os.environ,
        SVH_STATE_DIR=str(state_dir),
        SVH_BRIDGE=f"svh-t{slot}",
        SVH_NETWORK=f"10.243.{slot}.0/24",
        COLUMNS="200",
        NO_COLOR="1",
    )
    run = HarnessRun(env, state_dir)
    yield run
    run("down", "--all", check=False)


def pytest_sessionstart(session):
    session.config._tests_started = time.time()


def pytest_terminal_summary(terminalreporter, config):
    """The catch table of tests/test_defects.py: defect -> the suite checks that failed on it."""
    from test_defects import CATCH_TABLE_DIR

    rows = [
        (f.stem, json.loads(f.read_text()))
        for f in sorted(CATCH_TABLE_DIR.glob("*.json"))
        if f.stat().st_mtime >= config._tests_started
    ]
    if rows:
        terminalreporter.section("defects caught by the suites")
        for defect, failed in rows:
            terminalreporter.write_line(
                f"{defect:22} {len(failed):3} failing checks: {', '.join(failed)}"
            )
