"""The live progress of `harness verify`, fed the events a suite run appends."""

from __future__ import annotations

import io
import json

from rich.console import Console

from signoff.live import LiveProgress
from verification import events


def test_plain_lines_name_phase_counts_and_failures_without_control_codes(tmp_path, monkeypatch):
    event_file = tmp_path / "events.jsonl"
    monkeypatch.setenv(events.ENV, str(event_file))
    sink = io.StringIO()
    console = Console(file=sink, force_terminal=False, width=200)
    with LiveProgress(["debian12", "debian13"], event_file, console) as live:
        events.phase("debian12", "install")
        events.emit("debian12", outcome="passed", check="test_a[debian12]")
        events.emit("debian13", outcome="failed", check="test_b[debian13]")
        live.read()
    lines = sink.getvalue().splitlines()
    assert lines[0].startswith("debian12: waiting, 0 passed, 0 failed, 0 skipped, ")
    assert any(line.startswith("debian12: install, 0 passed") for line in lines)
    assert any(
        line.startswith("debian13: waiting, 0 passed, 1 failed") and "test_b[debian13]" in line
        for line in lines
    )
    assert lines[-1].startswith("debian13: done, 0 passed, 1 failed")
    assert "\x1b" not in sink.getvalue()


def test_a_half_written_line_waits_for_its_end(tmp_path):
    event_file = tmp_path / "events.jsonl"
    live = LiveProgress(["debian12"], event_file, Console(file=io.StringIO()))
    event = json.dumps({"box": "debian12", "outcome": "passed"})
    event_file.write_text(event[:10])
    live.read()
    assert live.boxes["debian12"].counts == {}
    event_file.write_text(event + "\n")
    live.read()
    assert live.boxes["debian12"].counts == {"passed": 1}


def test_box_and_check_names_come_from_the_parameter_id():
    boxes = ["debian12", "centos7", "centos7-abi"]
    assert events.box_of("test_x[centos7-abi-tornado]", boxes) == "centos7-abi"
    assert events.box_of("test_x[centos7]", boxes) == "centos7"
    assert events.check_of("test_x[centos7-abi-tornado]", "centos7-abi") == "test_x[tornado]"
    assert events.check_of("test_x[debian12]", "debian12") == "test_x"
