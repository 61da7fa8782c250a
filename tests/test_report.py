"""The sign-off report: JUnit XML from pytest into per-box verdicts, rendered."""

import json

from signoff import report

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
