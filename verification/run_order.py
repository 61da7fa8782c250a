"""The order in which a run of the harness's tests hands its work to the workers: the work
measured longest first.

Under `--dist loadgroup` a worker that is done takes the next unit in collection order (a
group of tests that share an xdist_group, or one test). A unit of minutes that comes last
runs alone while the other workers idle: on two cores the main tier's last minutes were
mostly idle. `--costs FILE` orders the units by their measured cost, longest first, so
that the short ones fill in around the long ones (run it with xdist's
--no-loadscope-reorder, which would order them by their number of tests). FILE is what a
run recorded with `--store-costs FILE`: setup, call and teardown of each test, summed per
unit; a test not measured counts 0 and keeps its place after the measured ones. Within a
unit the order is kept: a box's checks rely on theirs (suites/conftest.py).
"""

from __future__ import annotations

import json
from collections import defaultdict
from pathlib import Path

import pytest

from .events import test_name as bare  # the test's id without xdist's '@GROUP'


def unit(item: pytest.Item) -> str:
    """What a worker takes at once: the test's xdist_group, else the test itself."""
    mark = item.get_closest_marker("xdist_group")
    if mark is not None:
        return "group:" + str(mark.args[0] if mark.args else mark.kwargs.get("name"))
    return bare(item.nodeid)


def load_costs(path: Path) -> dict[str, float]:
    """Seconds per test id, as --store-costs wrote them."""
    try:
        return {k: float(v) for k, v in json.loads(path.read_text())["seconds"].items()}
    except (OSError, ValueError, KeyError, TypeError, AttributeError) as e:
        raise pytest.UsageError(f"--costs {path}: not a file of measured costs ({e})") from None


def longest_first(items: list[pytest.Item], costs: dict[str, float]) -> None:
    """Sort ITEMS in place: units by their summed cost, longest first; ties and unmeasured
    units in collection order; each unit's own tests in theirs."""
    units = [unit(item) for item in items]
    cost: dict[str, float] = defaultdict(float)
    first: dict[str, int] = {}
    for index, (name, item) in enumerate(zip(units, items, strict=True)):
        first.setdefault(name, index)
        cost[name] += costs.get(bare(item.nodeid), 0.0)
    order = sorted(range(len(items)), key=lambda i: (-cost[units[i]], first[units[i]]))
    items[:] = [items[i] for i in order]


class CostRecorder:
    """`--store-costs FILE`: each test's setup, call and teardown seconds, written at the end
    of the run."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.seconds: dict[str, float] = defaultdict(float)

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        self.seconds[bare(report.nodeid)] += report.duration

    def pytest_sessionfinish(self) -> None:
        measured = {k: round(v, 1) for k, v in sorted(self.seconds.items())}
        self.path.write_text(json.dumps({"seconds": measured}, indent=0) + "\n")


class LongestFirst:
    """`--costs FILE`: the run's units longest first."""

    def __init__(self, costs: dict[str, float]) -> None:
        self.costs = costs

    @pytest.hookimpl(trylast=True)  # after each box's own order (suites/conftest.py)
    def pytest_collection_modifyitems(self, items: list[pytest.Item]) -> None:
        longest_first(items, self.costs)


def add_options(group) -> None:
    group.addoption(
        "--costs",
        metavar="FILE",
        type=Path,
        help="hand the tests to xdist's workers longest first, by FILE's measured seconds",
    )
    group.addoption(
        "--store-costs",
        metavar="FILE",
        type=Path,
        help="write each test's measured seconds to FILE, for --costs",
    )


def register(config: pytest.Config, worker: bool) -> None:
    """The plugins --costs and --store-costs ask for (the recorder on the controller only:
    it receives every worker's reports)."""
    costs, store = config.getoption("--costs"), config.getoption("--store-costs")
    if costs is not None:
        config.pluginmanager.register(LongestFirst(load_costs(costs)), "harness-costs")
    if store is not None and not worker:
        config.pluginmanager.register(CostRecorder(store), "harness-store-costs")
