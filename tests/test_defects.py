"""The verifier is verified: the suites fail on every deliberately broken package set of
the build module, and the failing checks name the defect's class.

Each defect variant is built (dist/BOX-defect-NAME/, reused when present: debian12 for the
classic ones, centos7 for those of portable payloads) and the suites run against it in a
pytest of their own, on the box that proves it (centos7's on centos7-abi, glibc 2.17); the
catch table (defect -> failing checks) is printed at the end of the run.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from builds import defects
from builds.locks import OLDER_LINES
from harness import paths
from signoff import report
from verification.suite_command import SuiteRun

BOX = "debian12"
PORTABLE_BUILD, PORTABLE_BOX = "centos7", "centos7-abi"
RPM_BOX = "centos7-rpm"  # where the RPMs' scriptlets run
OLD_SALT = OLDER_LINES[0]  # the older line a broken upgrade is seen from
# Where an upgrade changes /opt/salt's Python minor: debian13's LTS line carries 3.11.
MINOR_CHANGE_BOX, MINOR_CHANGE_SALT = "debian13", OLDER_LINES[-1]
MINOR_CHANGE = {"extras-stranded"}
# The check whose failure names each defect's class.
CAUGHT_BY = {
    "system-site-packages": "test_venv_does_not_include_system_site_packages",
    "buildroot-paths": "test_no_build_root_paths_in_the_payload",
    "ld-export": "test_nothing_is_exported_to_the_system",
    "wrapper-pythonpath": "test_wrappers_keep_sys_path_inside_opt_salt",
    "missing-dep": "test_opt_salt_imports_its_own_copy_at_the_locked_version[msgpack]",
    "unit-path": "test_minion_service_is_enabled_and_running",
    "conffile": "test_minion_and_master_configs_are_conffiles",
    "distro-clobber": "test_distro_conflict_packages_verify_clean",
    "service-state": "test_upgrade_keeps_each_units_enabled_masked_and_stopped_state",
    "world-writable": "test_nothing_of_ours_is_world_writable_setuid_or_setgid",
    "root-only": "test_an_unprivileged_user_runs_salt_call_and_the_versions_report",
    "runtime-writes": "test_salt_writes_nothing_into_opt_salt_when_it_runs",
    "conffile-prompt": "test_unattended_upgrade_over_an_edited_conffile_neither_asks_nor_hangs",
    "version-stamp": "test_versions_report_names_the_versions_of_the_manifest",
    "extras-wiped": "test_upgrade_keeps_the_salt_pip_extras",
    "extras-stranded": "test_upgrade_keeps_the_salt_pip_extras",
    "upgrade-stops": "test_an_upgrade_ordered_by_the_master_finishes_and_the_minion_comes_back",
    "distro-dep": "test_packages_provide_and_require_only_what_is_allowed",
    "stop-signal": "test_minion_stops_gracefully_and_leaves_no_process",
    "missing-script": "test_every_program_answers_version_and_help",
    "no-libyaml": "test_salt_loads_and_dumps_yaml_with_libyaml",
    "exit-noise": "test_nothing_of_ours_writes_to_stderr_on_its_way_out",
    "python-unversioned": "test_a_system_interpreter_is_named_at_its_minor_and_required",
    "slimmed": "test_every_salt_subpackage_imports",
    "logrotate-dir": "test_the_logrotate_config_is_a_regular_file_of_roots",
    "ownership-reset": "test_an_admins_master_user_and_its_ownership_survive_an_upgrade",
    "rc-above-final": "test_a_release_candidate_sorts_below_its_final",
    "salt-pip-target": "test_salt_extensions_installed_with_salt_pip_are_reported_and_load",
    "stdlib-gap": "test_bundled_interpreter_has_a_complete_stdlib",
    "build-glibc": "test_every_elf_stays_within_the_abi_ceiling",
    "system-libssl": "test_every_elf_stays_within_the_abi_ceiling",
    "preun-stops": "test_upgrade_restarts_the_running_minion_on_the_new_interpreter",
    "postun-no-restart": "test_upgrade_restarts_the_running_minion_on_the_new_interpreter",
    "config-replaced": "test_upgrade_keeps_edits_keys_and_enabled_state",
    "post-starts-all": "test_upgrade_keeps_each_units_enabled_masked_and_stopped_state",
    "restart-queued": "test_an_upgrade_has_restarted_the_minion_when_the_package_manager_returns",
    "orphans-on-stop": "test_minion_stops_gracefully_and_leaves_no_process",
    "no-init-scripts": (
        "test_init_script_reports_a_stopped_daemon_and_refuses_bad_actions[salt-minion]"
    ),
}
# Sound variants: the check that must pass on each, its branch taken (not skipped).
PASSED_BY = {"config-changes": "test_upgrade_sets_a_changed_config_aside_beside_the_edit"}
# Caught by a second check as well: on the glibc 2.17 box, what EL7 itself would refuse to
# load; for a minion that does not come back, the plain upgrade sees it too.
ALSO_CAUGHT_BY = {
    "build-glibc": "test_bundled_module_imports[cryptography.hazmat.bindings._rust]",
    "system-libssl": "test_bundled_module_imports[ssl]",
    "upgrade-stops": "test_upgrade_restarts_the_running_minion_on_the_new_interpreter",
}
# The checks that must catch each defect, with the fixtures they need and nothing else:
# a variant costs a build, a box and an install, not a whole suite run.
UPGRADE_DEFECTS = {"service-state", "conffile-prompt", "extras-wiped", "upgrade-stops"}
UPGRADE_DEFECTS |= {"restart-queued"}
UPGRADE_DEFECTS |= {"ownership-reset"} | MINOR_CHANGE
UPGRADE_DEFECTS |= defects.RPM_SCRIPTLETS | set(PASSED_BY)
RPM_LIFECYCLE = defects.RPM_SCRIPTLETS | set(PASSED_BY)  # built for centos7, run by its rpm
# The master orders the upgrade, or the jobs.
NEEDS_MASTER = {"upgrade-stops", "stop-signal", "orphans-on-stop"}


def suite_run(defect: str, box: str, packages: str, junit: Path) -> SuiteRun:
    checks = {PASSED_BY[defect]} if defect in PASSED_BY else set(caught_by(defect))
    names = " or ".join(sorted({check.split("[")[0] for check in checks}))
    markers = [] if defect in UPGRADE_DEFECTS else ["lifecycle"]
    markers += [] if defect in NEEDS_MASTER else ["needs_master"]
    marker = " and ".join(f"not {m}" for m in markers) or None
    # A broken older line is the one upgraded from, to the good packages.
    older = packages if defect in defects.OLDER_LINE else None
    under_test = str(paths.package_set_dir(boxes(defect)[0])) if older else packages
    return SuiteRun(
        [box],
        packages=under_test,
        older_line=older,
        older_salt=MINOR_CHANGE_SALT if defect in MINOR_CHANGE else OLD_SALT,
        marker=marker,
        keyword=names,
        junit=junit,
    )


# One file per defect, so the table survives pytest-xdist workers; printed by tests/conftest.py.
CATCH_TABLE_DIR = paths.REPO_ROOT / "reports" / "defects"

pytestmark = pytest.mark.slow


def boxes(defect: str) -> tuple[str, str]:
    """(the box the defect is built for, the box its packages are verified on)"""
    if defect in RPM_LIFECYCLE:
        return PORTABLE_BUILD, RPM_BOX
    if defect in MINOR_CHANGE:
        return MINOR_CHANGE_BOX, MINOR_CHANGE_BOX
    return (PORTABLE_BUILD, PORTABLE_BOX) if defect in defects.PORTABLE else (BOX, BOX)


# The older EL targets whose ABI ceiling the build-glibc defect breaks too, each proven on
# its own glibc 2.17 box (EL6's wheels taken for 2.36: manylinux2014 instead of 2010; EL5's
# psutil and PyCrypto compiled by the build box's gcc against glibc 2.36).
CEILING_TARGETS = {"centos6": "centos6-abi", "centos5": "centos5-abi"}


def built(defect: str, build_box: str | None = None) -> str:
    """The defect variant's packages: built, or taken as they are when current."""
    build_box = build_box or boxes(defect)[0]
    salt = OLD_SALT if defect in defects.OLDER_LINE else None
    if defect in MINOR_CHANGE:  # the line upgraded from: none of the usual builds makes it
        harness_build(build_box, "--salt", MINOR_CHANGE_SALT, what=f"Salt {MINOR_CHANGE_SALT}")
    line = ["--salt", salt] if salt else []
    harness_build(build_box, *line, "--defect", defect, what=f"the {defect} variant")
    return str(paths.package_set_dir(build_box, salt, defect=defect))


def harness_build(box: str, *options: str, what: str) -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "signoff.cli", "build", box, *options],
        capture_output=True,
        text=True,
    )
    if proc.returncode != 0:
        pytest.fail(f"building {what} for {box} failed: {proc.stderr.strip()}", pytrace=False)


def test_the_build_module_lists_exactly_these_defects():
    listing = subprocess.run(
        [sys.executable, "-m", "signoff.cli", "build", "--list-defects"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    listed = sorted(line.split()[0] for line in listing.splitlines() if line.strip())
    assert listed == sorted([*CAUGHT_BY, *PASSED_BY])


def caught_by(defect: str) -> tuple[str, str]:
    return CAUGHT_BY[defect], ALSO_CAUGHT_BY.get(defect, CAUGHT_BY[defect])


def run_suites(
    defect: str, tmp_path: Path, target: tuple[str, str] | None = None
) -> dict[str, str]:
    """The suites' checks for `defect` run against its packages: outcome by check. `target`:
    (build box, box) where not the defect's usual ones."""
    build_box, box = target or boxes(defect)
    packages = built(defect, build_box)
    junit = tmp_path / "junit.xml"
    subprocess.run(
        suite_run(defect, box, packages, junit).argv(),
        cwd=paths.REPO_ROOT,
        capture_output=True,
        text=True,
        env={**os.environ, "SVH_INSTANCE_SUFFIX": f"defect-{defect}"},
    )
    assert junit.exists(), f"the suites did not run against {packages}"
    return {check_name(c.name, box): c.outcome for c in report.read_junit(junit, [box])}


def check_name(name: str, box: str) -> str:
    """'test_x[debian12-msgpack]' -> 'test_x[msgpack]'; the box and the older line dropped."""
    name = re.sub(r"-from-[\d.]+\]$", "]", name)
    return name.replace(f"[{box}]", "").replace(f"[{box}-", "[")


@pytest.mark.parametrize("defect", sorted(CAUGHT_BY))
def test_suites_catch_the_defect(defect, tmp_path):
    outcomes = run_suites(defect, tmp_path)
    failed = [name for name, outcome in outcomes.items() if outcome in ("failed", "error")]
    CATCH_TABLE_DIR.mkdir(parents=True, exist_ok=True)
    (CATCH_TABLE_DIR / f"{defect}.json").write_text(json.dumps(failed))
    for check in caught_by(defect):
        assert check in failed, f"{defect} not caught by {check}; failing: {failed}"


@pytest.mark.parametrize("target", sorted(CEILING_TARGETS.items()), ids=lambda t: t[0])
def test_each_older_targets_ceiling_breach_is_caught(target, tmp_path):
    outcomes = run_suites("build-glibc", tmp_path, target)
    check = CAUGHT_BY["build-glibc"]
    assert outcomes.get(check) in ("failed", "error"), (
        f"build-glibc for {target[0]} not caught by {check} on {target[1]}: {outcomes}"
    )


@pytest.mark.parametrize("variant", sorted(PASSED_BY))
def test_suites_pass_the_sound_variant(variant, tmp_path):
    outcomes = run_suites(variant, tmp_path)
    bad = {name: outcome for name, outcome in outcomes.items() if outcome != "passed"}
    assert outcomes.get(PASSED_BY[variant]) == "passed" and not bad, (
        f"{variant} must pass {PASSED_BY[variant]} with its branch taken; not passed: {bad}"
    )
