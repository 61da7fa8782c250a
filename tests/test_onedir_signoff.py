"""Salt's onedir layout, built by our builder (`harness build debian12 --layout onedir`), signs
off on a debian12 box: the smoke checks, run by `harness verify --packages` on the set's
directory, read its prefix and names from the packages. The whole suites on debian12 and on
centos7's boxes run in `./run main all`."""

from __future__ import annotations

from pathlib import Path

import pytest
from build_helpers import extract_debs, tree_diff

from builds import defects, layout
from verification import package_dir

pytestmark = pytest.mark.xdist_group("onedir")

ONEDIR = "/opt/saltstack/salt"
PACKAGES = Path(__file__).resolve().parents[1] / "dist" / "debian12-onedir"


@pytest.fixture(scope="module")
def packages(harness_run) -> Path:
    harness_run("build", "debian12", "--layout", "onedir", timeout=3600)
    return PACKAGES


@pytest.fixture(scope="module")
def verified(packages, harness_run) -> tuple[dict, str]:
    # Its box is named apart from the worker's own debian12 box, which may be up meanwhile.
    return harness_run.verify(
        "--box",
        "debian12",
        "--packages",
        str(packages),
        "-m",
        "smoke",
        suffix="onedir",
        timeout=1800,
    )


def test_the_onedir_prefix_and_names_are_read_from_the_packages(packages):
    _, layout = package_dir.describe(packages)
    assert layout.prefix == ONEDIR and layout.common == "salt-common"
    assert layout.interpreter == f"{ONEDIR}/bin/python3"
    # /usr/bin/TOOL: each role's package ships the link to the launcher at the onedir's top
    assert layout.commands["salt-call"] == "/usr/bin/salt-call"
    assert layout.wrappers["salt-minion"] == "salt-minion"
    assert layout.wrappers["salt-pip"] == "salt-common"
    assert set(layout.services) == {"salt-api", "salt-master", "salt-minion", "salt-syndic"}


def test_the_onedir_set_signs_off_on_debian12(verified):
    summary, stdout = verified
    (box,) = summary["boxes"]
    failed = [c["name"] for c in box["checks"] if c["outcome"] in ("failed", "error")]
    assert not failed, failed
    assert box["verdict"] == "PASS" and "verdict: PASS" in stdout
    assert box["passed"] >= 20, box["passed"]


@pytest.mark.parametrize("defect", ["version-stamp", "wrapper-pythonpath"])
def test_an_onedir_defect_variant_differs_from_the_good_set_exactly_as_named(
    defect, packages, harness_run, tmp_path
):
    """A variant that keeps the venv packs the good set's onedir, launchers and all, with the
    one part broken: the stamp in the onedir, or every launcher at its top."""
    harness_run("build", "debian12", "--layout", "onedir", "--defect", defect, timeout=1800)
    for side in ("good", "bad"):
        (tmp_path / side).mkdir()
    bad = extract_debs(PACKAGES.with_name(f"{PACKAGES.name}-defect-{defect}"), tmp_path / "bad")
    diff = tree_diff(extract_debs(packages, tmp_path / "good"), bad)
    onedir, common = ONEDIR.lstrip("/"), "salt-common"
    if defect == "version-stamp":
        stamp = f"{onedir}/lib/python3.11/site-packages/salt/_version.txt"
        assert diff == {common: {stamp: "changed"}}
    else:
        launchers = {f"{onedir}/{t}" for sub in layout.SUBPACKAGES for t in sub.tools}
        assert diff == {common: dict.fromkeys(launchers, "changed")}
        text = (bad[common] / onedir / "salt-minion").read_text()
        assert f"PYTHONPATH={defects.DISTRO_DIST_PACKAGES}\nexec {ONEDIR}/bin/salt-minion" in text
