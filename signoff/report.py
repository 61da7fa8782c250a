"""The sign-off report of a verification run: pytest's JUnit XML, the manifests of the
packages verified and the host, rendered as Markdown and HTML (jinja2) plus a JSON summary."""

from __future__ import annotations

import json
import platform
import subprocess
import time
import xml.etree.ElementTree as ET
from dataclasses import asdict, dataclass, field
from pathlib import Path

import jinja2

from harness import paths

TEMPLATES = Path(__file__).with_name("templates")


@dataclass
class Check:
    suite: str
    name: str
    box: str
    outcome: str  # passed, failed, error, skipped
    seconds: float
    message: str = ""


@dataclass
class BoxResult:
    box: str
    manifest: dict
    checks: list[Check] = field(default_factory=list)

    def count(self, outcome: str) -> int:
        return sum(1 for c in self.checks if c.outcome == outcome)

    @property
    def verdict(self) -> str:
        failed = self.count("failed") + self.count("error")
        return "PASS" if self.checks and not failed else "FAIL"


def _box_of(test_name: str, boxes: list[str]) -> str:
    """'test_x[debian12-tornado]' -> 'debian12' (the box id starts every parameter id)."""
    param = test_name.partition("[")[2].rstrip("]")
    return next(
        (
            b
            for b in sorted(boxes, key=len, reverse=True)
            if param == b or param.startswith(b + "-")
        ),
        "(no box)",
    )


def read_junit(junit: Path, boxes: list[str]) -> list[Check]:
    checks = []
    for case in ET.parse(junit).getroot().iter("testcase"):
        outcome, message = "passed", ""
        for tag in ("failure", "error", "skipped"):
            node = case.find(tag)
            if node is not None:
                outcome = {"failure": "failed"}.get(tag, tag)
                message = (node.get("message") or node.text or "").strip()
                break
        name = case.get("name", "")
        checks.append(
            Check(
                case.get("classname", "").rpartition(".")[2],
                name,
                _box_of(name, boxes),
                outcome,
                float(case.get("time", 0)),
                message,
            )
        )
    return checks


def collect(junit: Path, manifests: dict[str, dict]) -> list[BoxResult]:
    results = {box: BoxResult(box, manifest) for box, manifest in manifests.items()}
    for check in read_junit(junit, list(manifests)):
        results.setdefault(check.box, BoxResult(check.box, {})).checks.append(check)
    return list(results.values())


def _git_commit() -> str:
    proc = subprocess.run(
        ["git", "-C", str(paths.REPO_ROOT), "describe", "--always", "--dirty"],
        capture_output=True,
        text=True,
    )
    return proc.stdout.strip() or "unknown"


def write(report_dir: Path, results: list[BoxResult], started: float, command: str) -> dict:
    """Render report.md, report.html and summary.json into `report_dir`; return the summary."""
    summary = {
        "verdict": "PASS" if results and all(r.verdict == "PASS" for r in results) else "FAIL",
        "started": time.strftime("%Y-%m-%d %H:%M:%S %Z", time.localtime(started)),
        "seconds": round(time.time() - started, 1),
        "command": command,
        "harness_commit": _git_commit(),
        "host": f"{platform.node()} {platform.platform()}",
        "boxes": [
            {
                "box": r.box,
                "verdict": r.verdict,
                "passed": r.count("passed"),
                "failed": r.count("failed") + r.count("error"),
                "skipped": r.count("skipped"),
                "manifest": r.manifest,
                "checks": [asdict(c) for c in r.checks],
            }
            for r in results
        ],
    }
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(TEMPLATES),
        autoescape=jinja2.select_autoescape(["html"]),
        trim_blocks=True,
        lstrip_blocks=True,
    )
    for name in ("report.md", "report.html"):
        (report_dir / name).write_text(env.get_template(name + ".j2").render(**summary))
    (report_dir / "summary.json").write_text(json.dumps(summary, indent=2))
    return summary
