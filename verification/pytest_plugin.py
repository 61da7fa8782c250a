"""The pytest plugin: --box/--provider/--keep-boxes and the `machine` and `host` fixtures.

Every test that uses `machine` (or `host`) runs once per selected box. Instances are named
BOX-WORKER (`debian12-gw0` under pytest-xdist, `debian12-main` otherwise), so two workers
never share an instance and a run never touches boxes a user started by hand.
"""

from __future__ import annotations

import os
import time

import pytest

from builds import locks
from harness import catalog, session, settings, state
from harness.errors import HarnessError, SessionLost
from harness.providers import PROVIDERS
from harness.transport import Machine

from . import events, run_order
from .evidence import record_fingerprint
from .packages import holds_one_set, is_foreign, older_line_dir, package_dir, salt_version_in
from .testinfra_backend import testinfra_host


def pytest_addoption(parser):
    group = parser.getgroup("harness", "salt-venv-harness boxes")
    group.addoption(
        "--box",
        action="append",
        default=[],
        help="box(es) to run on: repeat, comma list, or 'all' (default: debian12)",
    )
    group.addoption(
        "--smoke-box",
        action="append",
        default=[],
        help="box(es) on which only the smoke checks run, in the same run as --box's full "
        "suites: repeat or comma list",
    )
    group.addoption(
        "--provider",
        choices=list(PROVIDERS),
        default=None,
        help="how to start boxes (default: nspawn where it can run)",
    )
    group.addoption(
        "--keep-boxes",
        action="store_true",
        help="leave boxes up after the run and print how to enter them",
    )
    group.addoption(
        "--packages", default=None, help="directory of packages to verify (default: dist/BOX/)"
    )
    group.addoption(
        "--prefix",
        default=None,
        help="where the packages hold Salt's venv or onedir, when they hold several "
        "(default: read from the packages)",
    )
    group.addoption(
        "--older-line",
        default=None,
        help="directory of the older Salt line the lifecycle upgrades from "
        "(default: dist/BOX-salt-VERSION/ of each --older-salt)",
    )
    group.addoption(
        "--older-salt",
        action="append",
        default=[],
        help="Salt version(s) the lifecycle upgrades from: repeat or comma list (default: "
        "the older_salt of the box whose packages are verified, boxes/*.toml, else "
        f"{', '.join(locks.OLDER_LINES)})",
    )
    run_order.add_options(group)


def worker_id() -> str:
    # SVH_INSTANCE_SUFFIX: a pytest run started from inside another one (the defect runs)
    # inherits its worker id and must not take over that worker's boxes.
    worker = os.environ.get("PYTEST_XDIST_WORKER", "main")
    return settings.current().text("SVH_INSTANCE_SUFFIX", worker)


def instance_name(box_name: str) -> str:
    return f"{box_name}-{worker_id()}"


def pytest_configure(config):
    config._harness_started = time.time()
    # First line of each box start failure -> the check that reported it.
    config._harness_unstarted = {}
    try:
        full = catalog.select_boxes(config.getoption("--box") or None)
        named = config.getoption("--smoke-box")
        smoke = catalog.select_boxes(named) if named else []
    except HarnessError as e:
        raise pytest.UsageError(str(e)) from None
    full_names = {b.name for b in full}
    config._harness_boxes = full + [b for b in smoke if b.name not in full_names]
    config._harness_smoke_only = {b.name for b in smoke} - full_names
    if settings.current().text(events.ENV) and not os.environ.get("PYTEST_XDIST_WORKER"):
        boxes = [b.name for b in config._harness_boxes]
        config.pluginmanager.register(OutcomeEvents(boxes), "harness-outcome-events")
    session.terminate_as_interrupt()
    config._harness_run = own_run()
    run_order.register(config, worker=bool(os.environ.get("PYTEST_XDIST_WORKER")))


def own_run() -> str:
    """The run token (SVH_RUN) this process sets for its workers and boxes, when it is the
    first process of the run (not a worker, not a run that harness verify started)."""
    if os.environ.get("PYTEST_XDIST_WORKER") or settings.current().text("SVH_RUN"):
        return ""
    token = session.new_run()
    settings.export("SVH_RUN", token)
    return token


@pytest.hookimpl(tryfirst=True)  # the box first in every id, before a test module's own
def pytest_generate_tests(metafunc):
    if "machine" not in metafunc.fixturenames:
        return
    boxes = metafunc.config._harness_boxes
    # A fixture whose values depend on the box is parametrized with it, in pairs.
    if "conflict" in metafunc.fixturenames:
        pairs, name = conflict_pairs(boxes), "conflict"
    elif "older_salt" in metafunc.fixturenames:
        pairs, name = older_line_pairs(metafunc.config, boxes), "older_salt"
    else:
        ids = [b.name for b in boxes]
        metafunc.parametrize("machine", ids, ids=ids, indirect=True, scope="session")
        return
    metafunc.parametrize(["machine", name], pairs, indirect=["machine"], scope="session")


def conflict_pairs(boxes: list[catalog.Box]) -> list:
    """One test per box and distro conflict library of that box (catalog [[conflicts]]); a
    box without any has the check once, skipped with the reason."""
    return [
        pytest.param(b.name, c, id=events.param_id(b.name, c.module))
        for b in boxes
        for c in b.conflicts
    ] + [
        pytest.param(
            b.name,
            None,
            id=b.name,
            marks=pytest.mark.skip(
                reason=f"{b.name} has no distro copies of Salt's libraries "
                "(no [[conflicts]] in its catalog entry): nothing to compare"
            ),
        )
        for b in boxes
        if not b.conflicts
    ]


def older_lines(config, box: catalog.Box) -> tuple[list[str], str]:
    """The Salt lines the lifecycle upgrades the box's packages from, and why there are none
    when so: --older-line's (or a foreign set's packages.toml older_line), each
    --older-salt, or the catalog's (older_salt of the box whose packages these are:
    builds.locks.older_lines)."""
    main = package_dir(box.packages_box, config.getoption("--packages"))
    chosen = older_line_dir(config.getoption("--older-line"), main)
    if chosen and holds_one_set(chosen):
        return [salt_version_in(chosen)], ""
    if not chosen and is_foreign(main):
        return [], (
            f"the packages in {main} are not ours and name no older line: give "
            f"--older-line DIR, or older_line in {main}/packages.toml"
        )
    named = [v.strip() for item in config.getoption("--older-salt") for v in item.split(",")]
    lines = [v for v in named if v] or list(locks.older_lines(box.packages_box))
    reason = f"{box.packages_box}'s packages have no older Salt line (older_salt = [])"
    return (lines[:1] if chosen else lines), reason


def older_line_pairs(config, boxes: list[catalog.Box]) -> list:
    """One run of the lifecycle per box and older line of that box's packages; a box whose
    packages have none (older_salt = []) has each check once, skipped with the reason."""
    pairs = []
    for b in boxes:
        lines, reason = older_lines(config, b)
        pairs += [
            pytest.param(b.name, line, id=events.param_id(b.name, f"from-{line}")) for line in lines
        ]
        if not lines:
            pairs.append(
                pytest.param(b.name, None, id=b.name, marks=pytest.mark.skip(reason=reason))
            )
    return pairs


@pytest.hookimpl(tryfirst=True)  # before pytest-xdist turns the group into the node id
def pytest_collection_modifyitems(config, items):
    # Under `--dist loadgroup`, every test of one box goes to one worker: one instance per box.
    for item in items:
        callspec = getattr(item, "callspec", None)
        if callspec and "machine" in callspec.params:
            item.add_marker(pytest.mark.xdist_group(callspec.params["machine"]))
    deselect_beyond_smoke(config, items)


def deselect_beyond_smoke(config, items: list) -> None:
    """On a --smoke-box, only the checks marked smoke."""
    smoke_only = config._harness_smoke_only
    kept, beyond = [], []
    for item in items:
        callspec = getattr(item, "callspec", None)
        on_smoke_box = callspec is not None and callspec.params.get("machine") in smoke_only
        if on_smoke_box and item.get_closest_marker("smoke") is None:
            beyond.append(item)
        else:
            kept.append(item)
    if beyond:
        config.hook.pytest_deselected(items=beyond)
        items[:] = kept


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item, call):
    """A box that cannot start fails the first check that needs it, with the reason; every
    later check that needs it skips, pointing there, instead of repeating the failure. A
    dropped SSH session fails its check with one line."""
    report = yield
    if call.excinfo is not None and call.excinfo.errisinstance(SessionLost):
        report.longrepr = str(call.excinfo.value)  # the line says it all: no traceback
    factory = getattr(item.config, "_harness_factory", None)
    died = factory.died() if factory and report.when == "call" else []
    if died:
        report.outcome = "failed"
        report.longrepr = "; ".join(died)
    if report.when != "setup" or not report.failed or call.excinfo is None:
        return report
    first_line = str(call.excinfo.value).splitlines()[0] if str(call.excinfo.value) else ""
    unstarted = item.config._harness_unstarted
    if first_line not in unstarted:
        return report
    if unstarted[first_line] is None:
        unstarted[first_line] = report.nodeid
        return report
    report.outcome = "skipped"
    reason = f"Skipped: {first_line} (failed once, at {unstarted[first_line]})"
    report.longrepr = (str(item.path), item.location[1] or 0, reason)
    return report


class OutcomeEvents:
    """Each check's outcome for the live progress; the controller sees every worker's."""

    def __init__(self, boxes: list[str]):
        self.boxes = boxes

    def pytest_runtest_logreport(self, report):
        if report.when == "call" or (report.when == "setup" and not report.passed):
            outcome = "error" if report.when == "setup" and report.failed else report.outcome
        elif report.when == "teardown" and report.failed:
            outcome = "error"
        else:
            return
        name = events.test_name(report.nodeid.rpartition("::")[2])
        events.emit(events.box_of(name, self.boxes), outcome=outcome, check=name)


class BoxFactory:
    """Starts instances for a test session and removes them at its end (unless kept)."""

    def __init__(self, config):
        self.config = config
        self.started: list[tuple[state.Instance, Machine | None]] = []
        self.dead: set[tuple[str, int]] = set()

    def __call__(self, box_name: str, role: str = "") -> Machine:
        name = instance_name(f"{box_name}-{role}" if role else box_name)
        if not role:
            events.phase(box_name, "boot")
        leftover = state.load(name)
        if leftover and not state.owner_alive(leftover):
            session.down(leftover)  # a kept or crashed instance of an earlier run
        try:
            instance = session.up(box_name, self.config.getoption("--provider"), name)
            self.started.append((instance, None))
            machine = session.connect(instance)
        except HarnessError as e:
            message = f"box {box_name} could not be started: {e}"
            self.config._harness_unstarted[message.splitlines()[0]] = None
            pytest.fail(message, pytrace=False)
        self.started[-1] = (instance, machine)
        return machine

    def died(self) -> list[str]:
        """Each box of this session that died since the last look, said once."""
        said = []
        for instance, _ in self.started:
            # By PID: a box that a restore booted again may die again.
            why = (instance.name, instance.pid) not in self.dead and session.halt_if_lost(instance)
            if why:
                self.dead.add((instance.name, instance.pid))
                said.append(
                    f"box {instance.name} died during this check ({why}); what still ran of "
                    "it was stopped, and checks that restore it boot it again"
                )
        return said

    def cleanup(self):
        """Remove every box this session started; runs to its end even when interrupted,
        and again (idempotent) from pytest_unconfigure if a teardown was cut short."""
        with session.interrupts_deferred():
            while self.started:
                instance, machine = self.started.pop()
                if machine:
                    machine.close()
                if not self.config.getoption("--keep-boxes"):
                    session.down(instance)


@pytest.fixture(scope="session")
def box_factory(request):
    """box_factory(BOX, role="") -> a fresh, connected Machine of BOX for this test session."""
    factory = BoxFactory(request.config)
    request.config._harness_factory = factory
    yield factory
    factory.cleanup()


@pytest.fixture(scope="session")
def machine(request, box_factory) -> Machine:
    """A fresh, connected instance (harness.transport.Machine) of the selected box."""
    started = box_factory(request.param)
    record_fingerprint(request.config, started)
    return started


@pytest.fixture(scope="session")
def host(machine):
    """testinfra host for `machine`."""
    return testinfra_host(machine)


def pytest_unconfigure(config):
    # A second interrupt during teardown skips the fixture's own cleanup: boxes still go.
    factory = getattr(config, "_harness_factory", None)
    if factory is not None:
        factory.cleanup()
    # And those of workers that were killed before they could remove them.
    if getattr(config, "_harness_run", "") and not config.getoption("--keep-boxes"):
        session.down_run(config._harness_run)


def pytest_terminal_summary(terminalreporter, config):
    if not config.getoption("--keep-boxes") or os.environ.get("PYTEST_XDIST_WORKER"):
        return
    kept = [i for i in state.all_instances() if i.started_at >= config._harness_started]
    if kept:
        terminalreporter.section("boxes kept (--keep-boxes)")
        for i in kept:
            terminalreporter.write_line(
                f"{i.name}: harness ssh {i.name}   (remove: harness down {i.name})"
            )
