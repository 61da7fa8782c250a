"""Packages no one here wrote: the suites verify a salt venv DEB that Debian's dh-virtualenv
built (tests/dh_virtualenv_build.py), read from the package file alone, and the report
names what it does wrong, each failure with what was expected, what was found and the
command that shows it; no check crashes on the foreign layout."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from dh_virtualenv_build import BOX, dh_virtualenv_packages

from verification import package_dir

pytestmark = pytest.mark.xdist_group("dh-virtualenv")

# What dh-virtualenv's package does wrong, by check: each is a defect of the package that a
# user of it meets, not of the reader (README, "Packages built elsewhere").
KNOWN_FAILURES = {
    # bin/python3 -> /usr/bin/python3, and no Depends on python3.11 at all: the release's
    # next default Python (or its removal) breaks the venv
    "test_a_system_interpreter_is_named_at_its_minor_and_required",
    # its console scripts run the interpreter without -I: PYTHONPATH reaches Salt's sys.path
    "test_wrappers_resist_a_hostile_python_environment",
    # the sdists it compiled (timelib) keep pip's temporary build directory in their .so
    "test_no_build_root_paths_in_the_payload",
    # /etc/salt/pki is left to Salt, which makes it 0755 (salt#65264's class)
    "test_minion_keys_are_private_to_the_minion",
    # it ships Salt's own salt-pip, which refuses to run outside Salt's onedir: the program
    # fails --version and --help, says so on stderr, and no extra can be installed
    "test_every_program_answers_version_and_help",
    "test_nothing_of_ours_writes_to_stderr_on_its_way_out",
    "test_salt_pip_installs_into_the_extras_that_salt_call_imports",
    "test_salt_extensions_installed_with_salt_pip_are_reported_and_load",
    "test_a_minion_serves_its_master_with_a_salt_pip_extra",
    # its unit keeps Salt's older KillMode=process: a job's child that ignores SIGTERM
    # outlives the stop (salt#68406)
    "test_minion_stops_gracefully_and_leaves_no_process",
    # it ships a systemd unit and no /etc/init.d script: sysvinit finds nothing to start
    "test_init_script_starts_restarts_and_stops_its_daemon",
    "test_init_script_reports_a_stopped_daemon_and_refuses_bad_actions",
    "test_under_systemd_the_script_drives_the_unit_and_sysvinit_finds_it",
}


@pytest.fixture(scope="module")
def packages(tmp_path_factory) -> Path:
    return dh_virtualenv_packages(tmp_path_factory.mktemp("dh-virtualenv") / "build.log")


@pytest.fixture(scope="module")
def verified(packages, harness_run) -> tuple[dict, str]:
    # Its box is named apart from the worker's own debian12 box, which may be up meanwhile.
    return harness_run.verify(
        "--box", BOX, "--packages", str(packages), suffix="dhvenv", timeout=2400
    )


def test_the_layout_is_read_from_the_package_file(packages):
    _, layout = package_dir.describe(packages)
    assert layout.prefix == "/opt/venvs/salt-venv"
    assert layout.common == "salt-venv" and layout.python_version == "3.11"
    assert not layout.bundled_interpreter  # its python3 links to /usr/bin/python3
    assert layout.services == {"salt-minion": "salt-venv"}
    assert layout.commands["salt-call"] == "/opt/venvs/salt-venv/bin/salt-call"
    assert layout.system_interpreter == "/usr/bin/python3" and not layout.wrappers
    assert layout.salt_pip == "/opt/venvs/salt-venv/bin/salt-pip"  # Salt's own console script


def test_every_failure_names_expected_found_and_a_reproducer(verified):
    summary, _ = verified
    (box,) = summary["boxes"]
    checks = box["checks"]
    errors = [c["name"] for c in checks if c["outcome"] == "error"]
    assert not errors, f"checks that crashed on the foreign layout: {errors}"
    failed = [c for c in checks if c["outcome"] == "failed"]
    for check in failed:
        text = check["message"]
        assert "Traceback" not in text, f"{check['name']}: {text[:2000]}"
        assert re.match(r"(Failed: )?expected ", text), f"{check['name']}: {text}"
        assert "\n  found: " in text, f"{check['name']}: {text}"
        assert check.get("reproducer", "").startswith("harness ssh "), check


def test_the_report_names_what_dh_virtualenv_does_wrong(verified):
    summary, stdout = verified
    (box,) = summary["boxes"]
    failed = {c["name"].split("[")[0] for c in box["checks"] if c["outcome"] == "failed"}
    assert box["verdict"] == "FAIL" and "verdict: FAIL" in stdout
    assert failed == KNOWN_FAILURES, sorted(failed)


def test_checks_that_cannot_apply_skip_with_the_reason(verified):
    summary, _ = verified
    (box,) = summary["boxes"]
    skipped = {
        c["name"].split("[")[0]: c["message"] for c in box["checks"] if c["outcome"] == "skipped"
    }
    assert (
        "no /etc/logrotate.d/ config"
        in skipped["test_the_logrotate_config_is_a_regular_file_of_roots"]
    )
    assert "name no older line" in skipped["test_upgrade_keeps_edits_keys_and_enabled_state"]
    assert "nothing bundled" in skipped["test_bundled_interpreter_has_a_complete_stdlib"]
    assert box["passed"] >= 70, box["passed"]
