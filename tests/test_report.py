"""The sign-off report: JUnit XML from pytest into per-box verdicts, rendered."""

import dataclasses
import json
import subprocess
import sys
import time
from pathlib import Path

from builds.locks import OLDER_LINES
from harness import catalog, paths
from signoff import peer, report
from verification.events import box_of
from verification.report_layout import ReportDir

JUNIT = """<?xml version="1.0" encoding="utf-8"?>
<testsuites><testsuite name="pytest">
<testcase classname="suites.test_install" name="test_a[debian12]" time="1.5"/>
<testcase classname="suites.test_isolation" name="test_b[debian12-Cryptodome]" time="0.2">
  <failure message="expected Cryptodome imported from /opt/salt">details</failure></testcase>
<testcase classname="suites.test_isolation" name="test_c[debian11]" time="0.1">
  <skipped message="uses the system Python"/></testcase>
<testcase classname="suites.test_isolation" name="test_b[debian11-zmq]" time="0.3"/>
</testsuite></testsuites>
"""


def test_checks_are_grouped_per_box_with_their_outcome(tmp_path):
    junit = tmp_path / "junit.xml"
    junit.write_text(JUNIT)
    results = {r.box: r for r in report.collect(junit, {"debian11": {}, "debian12": {}})}
    assert results["debian12"].verdict == "FAIL" and results["debian11"].verdict == "PASS"
    failed = [c for c in results["debian12"].checks if c.outcome == "failed"]
    assert [(c.suite, c.name, c.message) for c in failed] == [
        (
            "test_isolation",
            "test_b[debian12-Cryptodome]",
            "expected Cryptodome imported from /opt/salt",
        )
    ]
    assert results["debian11"].count("skipped") == 1


def test_report_files_are_written(tmp_path):
    junit = tmp_path / "junit.xml"
    junit.write_text(JUNIT)
    manifest = {
        "salt_version": "3008.4",
        "python_version": "3.11.2",
        "packages": [
            {"name": "salt", "version": "3008.4-1", "file": "salt.deb", "sha256": "ab" * 32}
        ],
    }
    results = report.collect(junit, {"debian12": manifest, "debian11": {}})
    summary = report.write(tmp_path, results, started=0, command="pytest suites/")
    assert summary["verdict"] == "FAIL"
    assert json.loads((tmp_path / "summary.json").read_text())["boxes"][0]["failed"] == 1
    markdown = (tmp_path / "report.md").read_text()
    assert "| debian12 | **FAIL** | 1 | 1 | 0 | 3008.4 |" in markdown
    assert "expected Cryptodome imported from /opt/salt" in markdown
    assert '<td class="FAIL">FAIL</td>' in (tmp_path / "report.html").read_text()


def test_a_run_without_checks_is_not_a_pass(tmp_path):
    junit = tmp_path / "junit.xml"
    junit.write_text('<testsuites><testsuite name="pytest"></testsuite></testsuites>')
    assert (
        report.write(tmp_path, report.collect(junit, {"debian12": {}}), 0, "x")["verdict"] == "FAIL"
    )


MESSAGE = (
    "expected tornado imported from /opt/salt&#10;  found: /usr/lib/python3/dist-packages&#10;"
    "  box: debian13-main&#10;"
    "  see: harness ssh debian13-main -- 'python3 -c x'  (keep the box with --keep-boxes)"
)
FAILING = f"""<?xml version="1.0" encoding="utf-8"?>
<testsuites><testsuite name="pytest">
<testcase classname="suites.test_install" name="test_a[debian12]" time="1.5"/>
<testcase classname="suites.test_install" name="test_a[debian13]" time="1.5"/>
<testcase classname="suites.test_isolation" name="test_b[debian13-tornado]" time="0.2">
  <failure message="{MESSAGE}">x</failure></testcase>
<testcase classname="suites.test_isolation" name="test_b[debian12-tornado]" time="0.3"/>
</testsuite></testsuites>
"""


def failing_report(directory: Path) -> dict:
    """A two-box report with one failure, its logs and the boxes' fingerprints on disk."""
    (directory / "junit.xml").write_text(FAILING)
    logs = directory / "logs" / "debian13" / "test_b_debian13-tornado"
    logs.mkdir(parents=True)
    (logs / "minion.log").write_text("[ERROR] something\n")
    for box in ("debian12", "debian13"):
        fingerprint = directory / "boxes" / box / "fingerprint.json"
        fingerprint.parent.mkdir(parents=True)
        fingerprint.write_text(
            json.dumps(
                {
                    "release": f"Debian {box}",
                    "kernel": "6.1.0",
                    "init": "systemd",
                    "conflicts": {"python3-tornado": "6.2.0-3"},
                }
            )
        )
    results = report.collect(directory / "junit.xml", {"debian12": {}, "debian13": {}})
    return report.write(directory, results, time.time(), "pytest suites/")


def test_failures_carry_their_reproducer_logs_and_the_boxes_fingerprints(tmp_path):
    summary = failing_report(tmp_path)
    debian13 = next(b for b in summary["boxes"] if b["box"] == "debian13")
    failed = next(c for c in debian13["checks"] if c["outcome"] == "failed")
    assert failed["reproducer"] == "harness ssh debian13-main -- 'python3 -c x'"
    assert failed["logs"] == ["logs/debian13/test_b_debian13-tornado/minion.log"]
    assert debian13["fingerprint"]["conflicts"] == {"python3-tornado": "6.2.0-3"}
    html = (tmp_path / "report.html").read_text()
    assert 'href="logs/debian13/test_b_debian13-tornado/minion.log"' in html
    assert "python3-tornado" in (tmp_path / "report.md").read_text()


def test_the_matrix_puts_checks_against_boxes(tmp_path):
    summary = failing_report(tmp_path)
    rows = {r["check"]: r["cells"] for r in report.matrix(summary["boxes"])}
    assert rows == {
        "test_a": {"debian12": "passed", "debian13": "passed"},
        "test_b[tornado]": {"debian12": "passed", "debian13": "failed"},
    }
    assert "| test_b[tornado] | passed | failed |" in (tmp_path / "report.md").read_text()


def test_one_box_has_no_matrix(tmp_path):
    junit = tmp_path / "junit.xml"
    junit.write_text(FAILING.replace("debian13", "debian12"))
    report.write(tmp_path, report.collect(junit, {"debian12": {}}), 0, "x")
    assert "Checks against boxes" not in (tmp_path / "report.md").read_text()


def test_a_check_is_named_alike_with_and_without_xdist_groups(tmp_path):
    junit = tmp_path / "junit.xml"
    junit.write_text(JUNIT.replace('name="test_a[debian12]"', 'name="test_a[debian12]@debian12"'))
    (debian12,) = [r for r in report.collect(junit, {"debian12": {}}) if r.box == "debian12"]
    assert next(c.name for c in debian12.checks) == "test_a[debian12]"


def test_every_check_of_every_box_belongs_to_its_box():
    """Each box has each conflict check once per library of its catalog entry (a box
    without any: once, skipped with its reason), never a phantom "(no box)" check
    parametrized NOTSET."""
    boxes = [b.name for b in catalog.select_boxes(["all"])]
    collected = subprocess.run(
        [sys.executable, "-m", "pytest", "--collect-only", "-q", "suites/", "--box", "all"],
        capture_output=True,
        text=True,
        cwd=paths.REPO_ROOT,
    )
    names = [line.rpartition("::")[2] for line in collected.stdout.splitlines() if "::" in line]
    assert collected.returncode == 0 and len(names) > 100, collected.stdout[-2000:]
    assert [n for n in names if "NOTSET" in n or box_of(n, boxes) == "(no box)"] == []
    assert "test_system_python_imports_the_distro_copy[centos7-abi-Crypto]" in names


def test_a_failure_message_gives_back_its_reproducer():
    from verification import failure_text

    command = "grep -c ' x' /etc/salt/minion"
    text = failure_text.message("debian12-gw0", "one line", "none", command)
    assert failure_text.reproducer_in(text) == failure_text.reproducer("debian12-gw0", command)
    assert failure_text.reproducer_in("assert False") == ""


def test_runs_started_in_the_same_second_get_a_report_directory_each(tmp_path, monkeypatch):
    monkeypatch.setattr(time, "strftime", lambda _format: "20261204-051621")
    roots = [ReportDir.new(tmp_path).root for _ in range(3)]
    assert [r.name for r in roots] == ["20261204-051621", "20261204-051621-2", "20261204-051621-3"]


def lifecycle_ids(*options: str) -> set[str]:
    argv = ["--collect-only", "-q", "suites/test_lifecycle.py", "--box", "debian12", *options]
    collected = subprocess.run(
        [sys.executable, "-m", "pytest", *argv], capture_output=True, text=True, cwd=paths.REPO_ROOT
    )
    assert collected.returncode == 0, collected.stdout[-2000:]
    lines = [line for line in collected.stdout.splitlines() if "::" in line]
    return {line.partition("[")[2].rstrip("]") for line in lines}


def test_the_lifecycle_runs_once_from_each_older_line_the_box_first_in_its_id(tmp_path):
    assert lifecycle_ids() == {f"debian12-from-{line}" for line in OLDER_LINES}
    assert lifecycle_ids("--older-salt", "3006.29") == {"debian12-from-3006.29"}
    (tmp_path / "manifest.json").write_text('{"salt_version": "3007.2"}')
    assert lifecycle_ids("--older-line", str(tmp_path)) == {"debian12-from-3007.2"}


THEIR_JUNIT = """<?xml version="1.0" encoding="utf-8"?>
<testsuites><testsuite name="pytest">
<testcase classname="tests.pytests.pkg.integration.test_version" name="test_salt_version"
 time="2.5"/>
<testcase classname="tests.pytests.pkg.integration.test_salt_user" name="test_salt_user_home"
 time="0.4"><failure message="AssertionError: assert '/opt/saltstack/salt' == '/var/lib/salt'">
</failure></testcase>
<testcase classname="tests.pytests.pkg.integration.test_ssm" name="test_ssm_present" time="0">
  <skipped message="Skipped on Linux"/></testcase>
</testsuite></testsuites>
"""


def test_salts_package_tests_are_a_section_of_their_own_that_fails_the_verdict(tmp_path):
    junit = tmp_path / "their.xml"
    junit.write_text(THEIR_JUNIT)
    checks = peer.read_junit(junit, "debian12")
    assert [(c.name, c.outcome) for c in checks] == [
        ("integration/test_version.py::test_salt_version", "passed"),
        ("integration/test_salt_user.py::test_salt_user_home", "failed"),
        ("integration/test_ssm.py::test_ssm_present", "skipped"),
    ]
    section = {
        "name": "salt-pkg-tests",
        "title": "Salt's package tests",
        "boxes": [
            {
                "box": "debian12",
                "verdict": "FAIL",
                "passed": 1,
                "failed": 1,
                "skipped": 1,
                "not_applicable": 0,
                "seconds": 9.0,
                "chunks": {"install": "pytest tests/pytests/pkg/"},
                "checks": [dataclasses.asdict(c) for c in checks],
            }
        ],
        "deselected": [{"test": "integration/test_pip.py", "reason": "reaches PyPI"}],
        "not_applicable": [{"test": "", "reason": "no debug package", "message": "salt-dbg"}],
        "not_run": {"upgrade": "needs packages.broadcom.com"},
    }
    ours = tmp_path / "junit.xml"
    ours.write_text(JUNIT.replace("<failure", "<skipped").replace("</failure>", "</skipped>"))
    results = report.collect(ours, {"debian12": {}, "debian11": {}})
    # Every check of ours passed or skipped: the peer's failure alone fails the sign-off.
    summary = report.write(tmp_path, results, 0, "pytest suites/", peer=section)
    assert [b["verdict"] for b in summary["boxes"]] == ["PASS", "PASS"]
    assert summary["verdict"] == "FAIL"
    markdown = (tmp_path / "report.md").read_text()
    assert "## Salt's package tests" in markdown
    assert "| debian12 | **FAIL** | 1 | 1 | 1 | 0 | 9.0 |" in markdown
    assert "- `any test` failing with `salt-dbg`: no debug package" in markdown
    assert "- `integration/test_pip.py`: reaches PyPI" in markdown
    assert "assert '/opt/saltstack/salt' == '/var/lib/salt'" in markdown
    html = (tmp_path / "report.html").read_text()
    assert '<h2 id="peer">' in html and "Skipped on Linux" in html


TEARDOWN = """<?xml version="1.0" encoding="utf-8"?>
<testsuites><testsuite name="pytest">
<testcase classname="tests.pytests.pkg.integration.test_version" name="test_salt_version"
 time="1"><error message="failed on teardown with &quot;AssertionError&quot;">
tests/support/pkg.py:1438: in uninstall
    self._check_retcode(ret)
ret = ProcessResult(returncode=100, stdout='Reading package lists...', cmdline=['apt-get',
 'purge', '-y', 'salt-api', 'salt-common', 'salt-dbg'], data_key=None, data=None)
</error></testcase>
<testcase classname="tests.pytests.pkg.integration.test_salt_call" name="test_salt_call_local"
 time="1"><error message="failed on teardown with &quot;AssertionError&quot;">
tests/pytests/pkg/conftest.py:120: in salt_minion
    assert not leftovers, "a process of the minion outlived its stop"
</error></testcase>
</testsuite></testsuites>
"""


def test_a_failure_of_theirs_is_set_apart_only_for_the_cause_that_does_not_apply(tmp_path):
    # Their uninstall names salt-dbg, which our sets do not build: that teardown error says
    # nothing of our packages. Any other teardown error of theirs still fails.
    junit = tmp_path / "their.xml"
    junit.write_text(TEARDOWN)
    outcomes = {c.name: (c.outcome, c.message) for c in peer.read_junit(junit, "debian12")}
    outcome, message = outcomes["integration/test_version.py::test_salt_version"]
    assert outcome == peer.NOT_APPLICABLE and message.startswith("their teardown purges salt-dbg")
    outcome, _ = outcomes["integration/test_salt_call.py::test_salt_call_local"]
    assert outcome == "error"
