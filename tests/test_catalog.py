"""Box catalog: the shipped boxes load, and a bad box file is one line naming file and field."""

import typing
from pathlib import Path

import pytest

from builds import locks
from harness import catalog
from harness.errors import CatalogError
from harness.paths import BOXES_DIR
from harness.platform.base import Layout
from harness.providers.nspawn import image, system_python

GOOD = (BOXES_DIR / "debian12.toml").read_text()


def write_box(tmp_path: Path, text: str, name: str = "debian12") -> Path:
    path = tmp_path / f"{name}.toml"
    path.write_text(text)
    return path


def load_error(path: Path) -> str:
    with pytest.raises(CatalogError) as caught:
        catalog.load_box_file(path)
    message = str(caught.value)
    assert "\n" not in message and "Traceback" not in message
    return message


def test_shipped_catalog_has_every_target_box():
    boxes = catalog.load_catalog()
    assert {"debian11", "debian12", "debian13", "centos5", "centos6", "centos7"} <= set(boxes)
    for name in ("debian11", "debian12", "debian13"):
        assert boxes[name].provider_names == ["nspawn", "vagrant"]
    for name in ("centos5", "centos6", "centos7"):
        assert boxes[name].provider_names == ["vagrant"]
        assert boxes[name].package_format == "rpm"
    assert boxes["centos6"].init == "sysv" and boxes["centos7"].init == "systemd"


def test_debian11_bundles_an_interpreter_and_debian12_does_not():
    boxes = catalog.load_catalog()
    assert boxes["debian11"].python.bundle_interpreter
    assert boxes["debian11"].python.bundled_version == "3.11"
    assert boxes["debian11"].python.portable  # EL7's interpreter: one build for both
    assert not boxes["debian12"].python.bundle_interpreter


def test_unknown_key_names_file_and_key(tmp_path):
    path = write_box(
        tmp_path, GOOD.replace('init = "systemd"', 'init = "systemd"\ninit_system = "x"')
    )
    assert load_error(path) == (
        f"{path}: unknown key 'init_system' (fix the box file; see boxes/README.md)"
    )


def test_missing_field_names_file_and_field(tmp_path):
    path = write_box(tmp_path, GOOD.replace('package_format = "deb"\n', ""))
    assert load_error(path) == (
        f"{path}: missing field 'package_format' (fix the box file; see boxes/README.md)"
    )


def test_nested_unknown_key_names_its_path(tmp_path):
    path = write_box(
        tmp_path, GOOD.replace('suite = "bookworm"', 'suite = "bookworm"\nmirrors = []')
    )
    assert "unknown key 'providers.nspawn.mirrors'" in load_error(path)


def test_bad_value_names_field(tmp_path):
    path = write_box(tmp_path, GOOD.replace('init = "systemd"', 'init = "upstart"'))
    message = load_error(path)
    assert message.startswith(f"{path}: field 'init': ")
    assert "'systemd'" in message and "'sysv'" in message


def test_inconsistent_package_manager_is_explained(tmp_path):
    path = write_box(tmp_path, GOOD.replace('package_manager = "apt"', 'package_manager = "yum"'))
    assert "does not fit package_format 'deb'" in load_error(path)


def test_bundling_needs_a_version(tmp_path):
    text = GOOD.replace("bundle_interpreter = false", "bundle_interpreter = true")
    assert "bundled_version is required" in load_error(write_box(tmp_path, text))


def test_a_bundled_interpreter_is_the_portable_one(tmp_path):
    text = GOOD.replace(
        "bundle_interpreter = false", 'bundle_interpreter = true\nbundled_version = "3.11"'
    )
    assert "needs portable = true" in load_error(write_box(tmp_path, text))


def test_invalid_toml_is_one_line(tmp_path):
    assert "not valid TOML" in load_error(write_box(tmp_path, GOOD + "\n[broken"))


def test_name_must_match_file(tmp_path):
    assert "must match the file name" in load_error(write_box(tmp_path, 'name = "other"\n' + GOOD))


def test_select_boxes_accepts_lists_commas_and_all(tmp_path):
    assert [b.name for b in catalog.select_boxes(["debian11,debian12", "debian12"])] == [
        "debian11",
        "debian12",
    ]
    assert [b.name for b in catalog.select_boxes(None)] == ["debian12"]
    assert len(catalog.select_boxes("all")) == len(catalog.load_catalog())


def test_unknown_box_lists_the_known_ones():
    with pytest.raises(CatalogError, match=r"unknown box 'debian99' \(known boxes: centos5-abi, "):
        catalog.select_boxes("debian99")


def test_an_instance_record_of_another_harness_version_still_loads(tmp_path, monkeypatch):
    # A box whose record did not load would look absent: its address free for another box.
    import json

    from harness import state

    # Only for the body: the boxes of a running suite are checked after it, in their own
    # state dir.
    with monkeypatch.context() as env:
        env.setenv("SVH_STATE_DIR", str(tmp_path))
        record = tmp_path / "instances" / "old" / "instance.json"
        record.parent.mkdir(parents=True)
        record.write_text(
            json.dumps(
                {
                    "name": "old",
                    "box_name": "debian12",
                    "provider": "nspawn",
                    "address": "10.242.17.10",
                    "someday": 1,
                    "extra": {"init": "systemd", "veth": "vb-old", "other": "x"},
                }
            )
        )
        loaded = state.load("old")
        assert loaded is not None and loaded.address == "10.242.17.10"
        assert (loaded.extra.pid1, loaded.extra.veth) == ("systemd", "vb-old")


def test_a_salt_line_can_carry_its_own_interpreter_on_one_box():
    debian13 = catalog.load_box("debian13")
    lts = debian13.for_salt("3006.29").python
    assert (lts.bundle_interpreter, lts.bundled_version, lts.portable) == (True, "3.11", True)
    assert debian13.for_salt("3008.4") is debian13  # the release's own 3.13
    assert catalog.load_box("debian12").for_salt("3006.29").python.bundle_interpreter is False


def test_a_bad_salt_line_of_the_python_table_is_one_line(tmp_path):
    text = GOOD.replace("[python]\n", '[python.lines]\n"3006" = "three"\n\n[python]\n', 1)
    message = load_error(write_box(tmp_path, text))
    assert "field 'python.lines'" in message and "a Salt major = a Python minor" in message


# ---- the boxes whose image stages an EL release's Python (nspawn/system_python.py) --------
STAGED = {
    "centos7-abi": "el7",
    "centos7-rpm": "el7",
    "centos6-abi": "el6",
    "centos6-rpm": "el6",
    "centos5-abi": "el5",
    "centos5-rpm": "el5",
}


def staged_boxes() -> dict[str, tuple[catalog.Box, str]]:
    """Each box whose image stages a release's system Python, with that release."""
    staged = ((b, image.stages_python(b)) for b in catalog.load_catalog().values())
    return {box.name: (box, release) for box, release in staged if release}


def test_every_release_of_the_system_python_tables_is_a_catalog_value():
    annotation = catalog.NspawnSettings.model_fields["system_python"].annotation
    literal = next(a for a in typing.get_args(annotation) if a is not type(None))
    assert set(typing.get_args(literal)) == set(system_python.RELEASES)
    assert {name: release for name, (_, release) in staged_boxes().items()} == STAGED


@pytest.mark.parametrize("name", sorted(STAGED))
def test_a_staged_system_python_stands_for_its_release(name):
    """The box is its packages_of box but for the Python the image stages: the same conflicts
    (the release's table builds each, at its version) and bundled interpreter."""
    box, release = staged_boxes()[name]
    real = catalog.load_box(box.packages_box)
    assert system_python.RELEASES[release].python == real.python.version  # its fingerprint's
    assert box.python.version == system_python.VERSION
    assert box.conflicts == real.conflicts
    built = system_python.packages(release)
    assert {c.package: c.version for c in box.conflicts} == {
        c.package: built[c.package].version for c in box.conflicts if c.package in built
    }
    assert box.python.bundled_version == real.python.bundled_version
    if image.is_glibc_root(box):  # centos7-rpm's glibc is its Debian root's own
        assert box.glibc == real.glibc  # the release's ceiling, not the root's 2.17


def test_a_conflict_salt_does_not_bundle_has_no_pin_in_its_lock():
    """`bundled = false` (nothing of it under /opt/salt, suites/test_isolation.py) holds for the
    Salt line a box's packages carry: its lock pins no distribution of that name."""
    wrong = []
    for box in catalog.load_catalog().values():
        line = locks.box_line(box.packages_box)
        minor = Layout.of(catalog.load_box(box.packages_box).for_salt(line)).python_version
        pins = {p.key for p in locks.parse_lock(locks.salt_lock(line, minor).read_text())}
        for conflict in box.conflicts:
            names = {conflict.module.split(".")[0], conflict.package.removeprefix("python-")}
            names = {locks.canonical(n) for n in names}
            found = (names | {f"py{n}" for n in names}) & pins
            if not conflict.bundled and found:
                wrong.append(f"{box.name}: {conflict.package} (Salt {line} pins {found})")
    assert not wrong, f"bundled = false, yet in the lock: {wrong}"
