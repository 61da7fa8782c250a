"""The order a run hands its work to xdist's workers (--costs, --store-costs) and the boxes
that run only the smoke checks beside full ones (--smoke-box)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace

import pytest

from verification import run_order

ROOT = Path(__file__).resolve().parents[1]


def item(nodeid: str, group: str | None = None):
    mark = SimpleNamespace(args=(group,), kwargs={}) if group else None
    return SimpleNamespace(nodeid=nodeid, get_closest_marker=lambda name: mark)


def test_units_go_longest_first_and_each_keeps_its_own_order():
    items = [
        item("t.py::quick"),
        item("s.py::a[b1]@b1", "b1"),
        item("t.py::long"),
        item("s.py::b[b1]@b1", "b1"),
        item("t.py::unmeasured"),
        item("s.py::a[b2]@b2", "b2"),
    ]
    costs = {"t.py::quick": 1, "s.py::a[b1]": 30, "s.py::b[b1]": 30, "t.py::long": 50}
    costs |= {"s.py::a[b2]": 2}
    run_order.longest_first(items, costs)  # type: ignore[arg-type]
    assert [i.nodeid.split("@")[0] for i in items] == [
        "s.py::a[b1]",  # the group: 60 s in all
        "s.py::b[b1]",
        "t.py::long",
        "s.py::a[b2]",
        "t.py::quick",
        "t.py::unmeasured",  # not measured: after every measured unit
    ]


def test_recorded_costs_sum_each_tests_phases_and_read_back(tmp_path):
    path = tmp_path / "costs.json"
    recorder = run_order.CostRecorder(path)
    for seconds in (1.25, 2.0, 0.5):  # setup, call, teardown
        report = SimpleNamespace(nodeid="s.py::a[b1]@b1", duration=seconds)
        recorder.pytest_runtest_logreport(report)  # type: ignore[arg-type]
    recorder.pytest_sessionfinish()
    assert run_order.load_costs(path) == {"s.py::a[b1]": 3.8}


@pytest.mark.parametrize("text", [None, "not json", '{"other": 1}', "[1, 2]"])
def test_a_costs_file_that_is_not_one_is_refused_in_one_line(tmp_path, text):
    path = tmp_path / "costs.json"
    if text is not None:
        path.write_text(text)
    with pytest.raises(pytest.UsageError, match=f"--costs {path}: not a file of measured costs"):
        run_order.load_costs(path)


def collect(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "pytest", "suites/", "--co", "-q", "-p", "no:cacheprovider", *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )


def collected(*args: str) -> list[str]:
    proc = collect(*args)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return [line for line in proc.stdout.splitlines() if "::" in line]


def test_a_smoke_box_runs_only_the_smoke_checks_beside_a_full_box():
    both = collected("--box", "debian12", "--smoke-box", "debian13,debian12")
    smoke = collected("--box", "debian13", "-m", "smoke")
    full = collected("--box", "debian12")
    assert sorted(n for n in both if "[debian13" in n) == sorted(smoke)
    assert sorted(n for n in both if "[debian12" in n) == sorted(full)
    assert 0 < len(smoke) < len(full) / 2


def test_the_costs_put_the_longer_box_first_and_keep_each_boxs_order(tmp_path):
    boxes = ("--box", "debian12,debian13")
    plain = collected(*boxes)
    assert plain[0].count("[debian12")  # collection order: the first box's check first
    path = tmp_path / "costs.json"
    path.write_text(json.dumps({"seconds": {plain[-1]: 5.0}}))  # one check of the last box
    last_box = "[debian13" if "[debian13" in plain[-1] else "[debian12"
    ordered = collected(*boxes, "--costs", str(path))
    assert sorted(ordered) == sorted(plain)
    first_box = [n for n in ordered if last_box in n]
    assert ordered[: len(first_box)] == first_box == [n for n in plain if last_box in n]


def test_an_unreadable_costs_file_stops_the_run_in_one_line(tmp_path):
    proc = collect("--costs", str(tmp_path / "none.json"))
    assert proc.returncode == 4
    assert f"--costs {tmp_path / 'none.json'}: not a file of measured costs" in proc.stderr
    assert "Traceback" not in proc.stdout + proc.stderr
