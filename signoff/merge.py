"""`harness report merge DIR...`: the reports of shards (one CI job each) joined into one
sign-off: verdict, counts, matrix, JUnit, fingerprints and failure logs."""

from __future__ import annotations

import json
import shutil
import time
import xml.etree.ElementTree as ET
from pathlib import Path

from harness.errors import HarnessError
from verification.report_layout import ReportDir

from . import report


def _summary(directory: Path) -> dict:
    path = ReportDir(directory).summary
    try:
        return json.loads(path.read_text())
    except FileNotFoundError:
        raise HarnessError(
            f"{directory} is not a report directory (no summary.json): give the "
            "directories `harness verify` printed"
        ) from None
    except ValueError as e:
        raise HarnessError(
            f"{path} is not valid JSON ({e}): was the shard's run cut short?"
        ) from None


def merge_junit(directories: list[Path], target: Path) -> None:
    merged = ET.Element("testsuites")
    for directory in directories:
        junit = ReportDir(directory).junit
        if not junit.exists():
            raise HarnessError(
                f"{directory} has a summary but no junit.xml: copy the whole directory"
            )
        root = ET.parse(junit).getroot()
        merged.extend([root] if root.tag == "testsuite" else list(root))
    ET.ElementTree(merged).write(target, encoding="utf-8", xml_declaration=True)


def merge_peer(directories: list[Path], summaries: list[dict], target: Path) -> dict | None:
    """The shards' sections of Salt's package tests as one, their JUnit and logs copied."""
    sections = [(d, s["peer"]) for d, s in zip(directories, summaries, strict=True) if "peer" in s]
    if not sections:
        return None
    joined = {**sections[0][1], "boxes": []}
    for directory, section in sections:
        joined["boxes"] += section["boxes"]
        for box in section["boxes"]:
            kept = directory / section["name"] / box["box"]
            if kept.is_dir():
                shutil.copytree(kept, target / section["name"] / box["box"], dirs_exist_ok=True)
    return joined


def merge(directories: list[Path], target: Path) -> dict:
    """Write the merged report into `target`; return its summary."""
    if not directories:
        raise HarnessError("name the report directories of the shards to merge")
    summaries = [_summary(d) for d in directories]
    owner: dict[str, Path] = {}
    boxes = []
    target.mkdir(parents=True, exist_ok=True)
    for directory, summary in zip(directories, summaries, strict=True):
        for box in summary["boxes"]:
            if box["box"] in owner:
                raise HarnessError(
                    f"box {box['box']} is in both {owner[box['box']]} and {directory}: "
                    "merge the shards of one matrix, each box once"
                )
            owner[box["box"]] = directory
            boxes.append(box)
            kept = zip(
                ReportDir(directory).of_box(box["box"]),
                ReportDir(target).of_box(box["box"]),
                strict=True,
            )
            for source, copy in kept:  # fingerprint and failure logs, same paths
                if source.is_dir():
                    shutil.copytree(source, copy, dirs_exist_ok=True)
    merge_junit(directories, ReportDir(target).junit)
    started = min(s.get("started_epoch", time.time()) for s in summaries)
    peer = merge_peer(directories, summaries, target)
    merged = report.summarize(
        boxes,
        started,
        max(s["seconds"] for s in summaries),  # the shards ran side by side
        "harness report merge " + " ".join(str(d) for d in directories),
        shards=[s["command"] for s in summaries],
        **({"peer": peer} if peer else {}),
    )
    report.render(target, merged)
    return merged
