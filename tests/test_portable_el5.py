"""EL5's portable Python 2.7 and Salt 3000.9's lock, as pure logic: which target a box gets,
what its cache key and compiler hold, how lockgen reads the index for a Python uv cannot
resolve for. The interpreter itself is built for real by a build box (builds.portable)."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from builds import index, inputs, lockgen, manifest, portable
from builds.errors import BuildError
from builds.locks import build_lock, parse_lock, salt_lock
from harness import catalog


def test_each_old_glibc_box_gets_the_portable_build_of_its_python():
    for box, glibc, series in (("centos5", "2.5", "2.7"), ("centos6", "2.12", "3.9")):
        built = portable.target(catalog.load_box(box))
        assert (built.glibc, built.series, built.zig) == (glibc, series, True)
    el5 = portable.target(catalog.load_box("centos5"))
    assert el5.recipe.name == "portable_recipe27.sh" and el5.python_name == "python2.7"
    assert portable.target(catalog.load_box("centos7")) is portable.EL7
    assert portable.EL6.recipe == portable.EL7.recipe == portable.RECIPE


def test_python_2_7_s_recipe_is_its_own_cache_key_only(monkeypatch):
    keys = {t: portable.cache_key(t) for t in portable.TARGETS}
    read_text = Path.read_text

    def edited(path, *args, **kwargs):
        text = read_text(path, *args, **kwargs)
        return text + "\n# changed" if path.name == "portable_recipe27.sh" else text

    monkeypatch.setattr(Path, "read_text", edited)
    assert portable.cache_key(portable.EL5) != keys[portable.EL5]
    assert [portable.cache_key(t) for t in (portable.EL6, portable.EL7)] == [
        keys[portable.EL6],
        keys[portable.EL7],
    ]


def test_the_recipes_are_valid_shell():
    for recipe in (portable.RECIPE27, portable.RECIPE, portable.LIBRARIES):
        subprocess.run(["bash", "-n", str(recipe)], check=True)


def test_every_recipe_shares_the_c_libraries_and_the_elf_relocation():
    for recipe in (portable.RECIPE27, portable.RECIPE):
        text = recipe.read_text()
        assert '. "$WORK/dl/portable_libraries.sh"' in text, recipe.name
        assert "\nprovide_libraries\n" in text and "\nrelocate_elf_files\n" in text, recipe.name


def test_el6_and_el5_share_one_set_of_c_libraries_built_for_the_older_glibc():
    assert portable.EL5.glibc == portable.SHARED_LIBRARIES_GLIBC
    assert portable.EL5.shared_libraries and portable.EL6.shared_libraries
    assert not portable.EL7.shared_libraries  # the ppbt toolchain's, and OpenSSL 3
    assert portable.shared_libraries_key(portable.EL5) == portable.shared_libraries_key(
        portable.EL6
    )


def test_sdists_for_glibc_2_5_see_zig_s_pre_2_7_scanf():
    """zig's features.h tests __GLIBC__ before defining it: without it, sscanf would need
    __isoc99_sscanf (GLIBC_2.7) on EL5. EL6's compiler line stays as it was."""
    el5 = portable.compile_env(catalog.load_box("centos5"))
    el6 = portable.compile_env(catalog.load_box("centos6"))
    assert el5["CC"].endswith("-target x86_64-linux-gnu.2.5 -D__GLIBC__=2")
    assert el6["CC"].endswith("-target x86_64-linux-gnu.2.12")


def test_python_2_wheels_are_asked_for_by_their_unicode_abi():
    assert inputs.abis("2.7") == ["cp27mu", "none"]
    assert inputs.abis("3.9") == ["cp39", "abi3", "none"]


def test_salt_3000_is_locked_for_python_2_7_at_the_versions_salt_tested():
    pins = {p.key: p for p in parse_lock(salt_lock("3000.9", "2.7").read_text())}
    assert pins["salt"].version == "3000.9" and all(p.hashes for p in pins.values())
    tested = dict(pin.split("==") for pin in lockgen.SALT_TESTED_WITH["3000.9"])
    assert {key: pins[key].version for key in tested} == tested
    assert set(pins) == {"salt", *tested}
    backends = {p.key: p.version for p in parse_lock(build_lock("2.7").read_text())}
    assert backends == {"pip": "20.3.4", "setuptools": "44.1.1", "wheel": "0.37.1"}
    assert lockgen.targets(["3000.9"], None) == [("3000.9", "2.7")]


FILES = (
    ("psutil-5.6.1.tar.gz", "a" * 64),
    ("psutil-5.6.1-cp27-none-win_amd64.whl", "b" * 64),
    ("psutil-5.9.8-cp27-cp27mu-manylinux2010_x86_64.whl", "c" * 64),
    ("msgpack-0.5.6-cp27-cp27mu-manylinux1_x86_64.whl", "d" * 64),
    ("msgpack-0.5.6-cp27-cp27m-manylinux1_x86_64.whl", "e" * 64),
    ("msgpack-0.5.6.tar.gz", "f" * 64),
    ("six-1.12.0-py2.py3-none-any.whl", "1" * 64),
    ("attrs-25.1.0-py3-none-any.whl", "2" * 64),
    ("psutil-5.6.1.win-amd64-py2.7.exe", "3" * 64),
)


@pytest.fixture
def on_the_index(monkeypatch):
    monkeypatch.setattr(
        index,
        "project_files",
        lambda name: tuple(
            (*f, f"https://files.example/{f[0]}")
            for f in FILES
            if f[0].lower().startswith(name + "-")
        ),
    )


def test_a_python_2_wheel_must_fit_cp27mu_on_glibc_2_5(on_the_index):
    tags = lockgen.PIP_RESOLVED["2.7"]
    assert lockgen._has_wheel("msgpack", "0.5.6", tags)
    assert lockgen._has_wheel("six", "1.12.0", tags)
    assert not lockgen._has_wheel("psutil", "5.6.1", tags)  # Windows only
    assert not lockgen._has_wheel("psutil", "5.9.8", tags)  # manylinux2010: glibc 2.12
    assert not lockgen._has_wheel("attrs", "25.1.0", tags)


def test_a_pin_carries_every_file_of_its_version_and_no_other(on_the_index):
    text = lockgen._hashed("psutil", "5.6.1")
    assert [p.hashes for p in parse_lock(text)] == [["a" * 64, "b" * 64]]


def test_an_sdist_only_requirement_is_taken_at_its_pin(on_the_index, monkeypatch):
    resolved: list[list[str]] = []

    def resolve(requirements, python_minor, constraints, no_deps):
        resolved.append(requirements)
        return {"msgpack": "0.5.6"}

    monkeypatch.setattr(lockgen, "_pip_resolve", resolve)
    text = lockgen._compiled_by_pip(
        ["msgpack<1.0.0", "psutil"], "2.7", ("msgpack==0.5.6", "psutil==5.6.1"), False
    )
    assert resolved == [["msgpack<1.0.0"]]
    assert [(p.name, p.version) for p in parse_lock(text)] == [
        ("msgpack", "0.5.6"),
        ("psutil", "5.6.1"),
    ]
    with pytest.raises(BuildError, match="does not satisfy"):
        lockgen._compiled_by_pip(["psutil>=6"], "2.7", ("psutil==5.6.1",), False)


def test_a_changed_python_2_7_recipe_rebuilds_el5_s_packages(monkeypatch):
    box = catalog.load_box("centos5")
    before = manifest.inputs_digest(box, "3000.9", None, "rpm")
    read_text = Path.read_text

    def edited(path, *args, **kwargs):
        text = read_text(path, *args, **kwargs)
        return text + "\n# changed" if path.name == "portable_recipe27.sh" else text

    monkeypatch.setattr(Path, "read_text", edited)
    assert manifest.inputs_digest(box, "3000.9", None, "rpm") != before


def fetch_from(tmp_path: Path, monkeypatch, lock_text: str) -> list[str]:
    """The files fetch_by_hash takes for `lock_text` on EL5 (downloads faked from FILES)."""

    def download(url, sha256, log):
        got = tmp_path / "dl" / url.rsplit("/", 1)[1]
        got.parent.mkdir(exist_ok=True)
        got.write_text(sha256)
        return got

    monkeypatch.setattr(inputs, "fetch_url", download)
    lock = tmp_path / "lock.txt"
    lock.write_text(lock_text)
    dest = tmp_path / "dest"
    inputs.fetch_by_hash(lock, dest, "2.7", "2.5", tmp_path / "log", "fetching the lock")
    return sorted(p.name for p in dest.iterdir())


def test_python_2_inputs_are_taken_by_their_locked_hash_best_wheel_first(
    on_the_index, monkeypatch, tmp_path
):
    lock = (
        f"msgpack==0.5.6 --hash=sha256:{'e' * 64} --hash=sha256:{'d' * 64} "
        f"--hash=sha256:{'f' * 64}\n"
        f"psutil==5.6.1 --hash=sha256:{'a' * 64} --hash=sha256:{'b' * 64}\n"
        f"six==1.12.0 --hash=sha256:{'1' * 64}\n"
    )
    # cp27mu's wheel, not cp27m's or the sdist; psutil's sdist (its wheel is Windows');
    # a pure wheel as it is.
    assert fetch_from(tmp_path, monkeypatch, lock) == [
        "msgpack-0.5.6-cp27-cp27mu-manylinux1_x86_64.whl",
        "psutil-5.6.1.tar.gz",
        "six-1.12.0-py2.py3-none-any.whl",
    ]


def test_a_python_2_pin_with_no_fitting_locked_file_is_refused(on_the_index, monkeypatch, tmp_path):
    lock = f"msgpack==0.5.6 --hash=sha256:{'e' * 64}\n"  # only cp27m's: a UCS-2 build's
    with pytest.raises(BuildError, match=r"no file with a locked hash fits Python 2\.7"):
        fetch_from(tmp_path, monkeypatch, lock)
