"""Faults injected into real `harness verify` runs (tests/faults.py): each run must end on
its own, leave nothing (processes in the harness's control groups, links, mounts, instance
records, scratch dirs), and the next run of the box must sign off. The acceptance series
(12 runs) is bench/bench_faults.py."""

from __future__ import annotations

import json
import random
import re
from pathlib import Path

import pytest
from faults import BOX, NO_BOX, Namespace, clean_run, faulted_run

from harness import paths

pytestmark = pytest.mark.xdist_group("faults")
SUBSET = ["-k", "isolation"]
NOTHING = {"runs": 0, "processes": 0, "links": 0, "mounts": 0, "instances": 0, "scratch": 0}


@pytest.fixture(scope="module")
def ns(tmp_path_factory):
    if not (paths.package_set_dir(BOX) / "manifest.json").exists():
        pytest.fail(f"no packages in dist/{BOX}: build them with harness build {BOX}")
    namespace = Namespace.fresh(tmp_path_factory.mktemp("faults"), random.randrange(20, 220))
    yield namespace
    namespace.harness("down", "--all")


def fail_lines(output: list[str]) -> list[str]:
    return [line for line in output if line.startswith("FAIL ")]


def signed_off_after(ns: Namespace) -> None:
    after = clean_run(ns)
    assert after.returncode == 0, after.stdout[-3000:] + after.stderr


@pytest.mark.parametrize("fault", ["sigint", "sigkill", "box-kill", "sshd-kill"])
def test_a_faulted_run_ends_leaves_nothing_and_the_next_run_signs_off(ns, fault):
    outcome = faulted_run(ns, fault, SUBSET, random.Random())
    said = "\n".join(outcome.output[-40:])
    assert outcome.note != NO_BOX, f"{fault}: the run ended before the fault came\n{said}"
    assert outcome.exit_code is not None, f"{fault}: the run hung\n{said}"
    assert outcome.left == NOTHING, f"{fault} ({outcome.note}) left {outcome.left}\n{said}"
    assert "Traceback" not in "\n".join(outcome.output), said
    if fault == "sigint":
        assert outcome.seconds - outcome.injected_at < 30, said
    if fault == "sigkill":
        assert outcome.output[-1] == "no leftovers remain", said
    if fault == "box-kill":
        died = [line for line in fail_lines(outcome.output) if "died during this check" in line]
        assert outcome.exit_code == 1 and len(died) == 1, said
    if fault == "sshd-kill":
        assert outcome.exit_code == 1, said
        assert any(
            re.search(r"box \S+: SSH session (dropped while running|lost)", line)
            for line in fail_lines(outcome.output)
        ), said
    signed_off_after(ns)


def test_a_box_that_cannot_start_fails_once_and_every_other_check_skips(ns):
    result = ns.harness("verify", "--box", BOX, "-m", "smoke", env={"SVH_BOOT_TIMEOUT": "0.3"})
    assert result.returncode == 1
    failures = [line for line in result.stdout.splitlines() if line.startswith("FAIL ")]
    assert len(failures) == 1, result.stdout
    assert f"box {BOX} could not be started: box {BOX}-faults: sshd at " in failures[0]
    report = re.search(r"report: (\S+)/report\.html", result.stdout)
    assert report, result.stdout
    checks = json.loads((Path(report.group(1)) / "summary.json").read_text())["boxes"][0]
    skipped = [c for c in checks["checks"] if c["outcome"] == "skipped"]
    assert len(skipped) == len(checks["checks"]) - 1 > 10
    assert all("(failed once, at suites/" in c["message"] for c in skipped), skipped[0]
    signed_off_after(ns)
