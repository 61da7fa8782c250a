"""The sign-off report of a verification run: pytest's JUnit XML, the manifests of the
packages verified, each box's fingerprint and the logs kept for failures, rendered as
Markdown and HTML (jinja2) plus a JSON summary that `harness report merge` joins."""

from __future__ import annotations

import json
import platform
import time
import xml.etree.ElementTree as ET
from dataclasses import asdict, dataclass, field
from pathlib import Path

import jinja2

from harness import paths
from harness.runner import capture
from verification import failure_text
from verification.events import box_of, check_of, test_name
from verification.report_layout import ReportDir

TEMPLATES = Path(__file__).with_name("templates")


@dataclass
class Check:
    suite: str
    name: str
    box: str
    outcome: str  # passed, failed, error, skipped
    seconds: float
    message: str = ""
    reproducer: str = ""
    logs: list[str] = field(default_factory=list)  # relative to the report directory


@dataclass
class BoxResult:
    box: str
    manifest: dict
    checks: list[Check] = field(default_factory=list)
    fingerprint: dict = field(default_factory=dict)

    def count(self, outcome: str) -> int:
        return sum(1 for c in self.checks if c.outcome == outcome)

    @property
    def verdict(self) -> str:
        failed = self.count("failed") + self.count("error")
        return "PASS" if self.checks and not failed else "FAIL"


def outcome_of(case: ET.Element) -> tuple[str, str]:
    """A JUnit testcase's outcome (passed, failed, error, skipped) and its message."""
    for tag in ("failure", "error", "skipped"):
        node = case.find(tag)
        if node is not None:
            return {"failure": "failed"}.get(tag, tag), (
                node.get("message") or node.text or ""
            ).strip()
    return "passed", ""


# The outcomes that fail a check (a failure of the test, or of its setup or teardown).
FAILED = ("failed", "error")


def read_junit(junit: Path, boxes: list[str]) -> list[Check]:
    checks = []
    for case in ET.parse(junit).getroot().iter("testcase"):
        outcome, message = outcome_of(case)
        name = test_name(case.get("name", ""))
        failed = outcome in FAILED
        checks.append(
            Check(
                case.get("classname", "").rpartition(".")[2],
                name,
                box_of(name, boxes),
                outcome,
                float(case.get("time", 0)),
                message,
                failure_text.reproducer_in(message) if failed else "",
            )
        )
    return checks


def collect(junit: Path, manifests: dict[str, dict]) -> list[BoxResult]:
    """Per-box results; fingerprints and failure logs are read from junit's directory."""
    report_dir = junit.parent
    layout = ReportDir(report_dir)
    results = {box: BoxResult(box, manifest) for box, manifest in manifests.items()}
    for check in read_junit(junit, list(manifests)):
        results.setdefault(check.box, BoxResult(check.box, {})).checks.append(check)
        logs = layout.failure_logs(check.box, check.name)
        if logs.is_dir():
            check.logs = sorted(str(p.relative_to(report_dir)) for p in logs.iterdir())
    for result in results.values():
        fingerprint = layout.fingerprint(result.box)
        if fingerprint.exists():
            result.fingerprint = json.loads(fingerprint.read_text())
    return list(results.values())


def box_summary(result: BoxResult) -> dict:
    return {
        "box": result.box,
        "verdict": result.verdict,
        "passed": result.count("passed"),
        "failed": result.count("failed") + result.count("error"),
        "skipped": result.count("skipped"),
        "manifest": result.manifest,
        "fingerprint": result.fingerprint,
        "checks": [asdict(c) for c in result.checks],
    }


def matrix(boxes: list[dict]) -> list[dict]:
    """Rows of checks against boxes: {"check": name, "cells": {box: outcome}}."""
    rows: dict[str, dict[str, str]] = {}
    for b in boxes:
        for c in b["checks"]:
            rows.setdefault(check_of(c["name"], b["box"]), {})[b["box"]] = c["outcome"]
    return [{"check": name, "cells": cells} for name, cells in rows.items()]


def _git_commit() -> str:
    proc = capture(["git", "-C", str(paths.REPO_ROOT), "describe", "--always", "--dirty"])
    return proc.stdout.strip() or "unknown"


def passed(boxes: list[dict], peer: dict | None = None) -> bool:
    """Every box passed ours and, where it ran, the peer's suite."""
    every = boxes + (peer["boxes"] if peer else [])
    return bool(boxes) and all(b["verdict"] == "PASS" for b in every)


def summarize(boxes: list[dict], started: float, seconds: float, command: str, **extra) -> dict:
    return {
        "verdict": "PASS" if passed(boxes, extra.get("peer")) else "FAIL",
        "started": time.strftime("%Y-%m-%d %H:%M:%S %Z", time.localtime(started)),
        "started_epoch": started,
        "seconds": round(seconds, 1),
        "command": command,
        "harness_commit": _git_commit(),
        "host": f"{platform.node()} {platform.platform()}",
        "boxes": boxes,
        **extra,
    }


def render(report_dir: Path, summary: dict) -> None:
    """report.md, report.html and summary.json of `summary` into `report_dir`."""
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(TEMPLATES),
        autoescape=jinja2.select_autoescape(["html"]),
        trim_blocks=True,
        lstrip_blocks=True,
    )
    rows = matrix(summary["boxes"]) if len(summary["boxes"]) > 1 else []
    for name in ("report.md", "report.html"):
        page = env.get_template(name + ".j2").render(**summary, matrix=rows)
        (report_dir / name).write_text(page)
    ReportDir(report_dir).summary.write_text(json.dumps(summary, indent=2))


def write(
    report_dir: Path, results: list[BoxResult], started: float, command: str, **extra
) -> dict:
    """Render the report of one run into `report_dir`; return its summary."""
    boxes = [box_summary(r) for r in results]
    summary = summarize(boxes, started, time.time() - started, command, **extra)
    render(report_dir, summary)
    return summary
