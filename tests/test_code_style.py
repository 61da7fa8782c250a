"""The project's own code: lint, format, types and function length, so CI fails on them."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

from harness.paths import REPO_ROOT

PACKAGES = ["harness", "builds", "verification", "signoff", "suites", "tests", "bench"]
MAX_FUNCTION_LINES = 60


def tool(*argv: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", *argv], cwd=REPO_ROOT, capture_output=True, text=True, timeout=600
    )


@pytest.mark.parametrize(
    "argv",
    [("ruff", "check", "."), ("ruff", "format", "--check", "."), ("mypy",)],
    ids=["ruff-check", "ruff-format", "mypy"],
)
def test_tool_is_clean(argv):
    done = tool(*argv)
    assert done.returncode == 0, f"{' '.join(argv)}:\n{done.stdout}{done.stderr}"


def test_no_function_is_longer_than_the_limit():
    long = []
    for package in PACKAGES:
        for path in sorted((REPO_ROOT / package).rglob("*.py")):
            for node in ast.walk(ast.parse(path.read_text())):
                if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                    first = min([node.lineno] + [d.lineno for d in node.decorator_list])
                    length = (node.end_lineno or node.lineno) - first + 1
                    if length > MAX_FUNCTION_LINES:
                        long.append(f"{Path(path).relative_to(REPO_ROOT)}:{first} {node.name}")
    assert not long, f"functions over {MAX_FUNCTION_LINES} lines: {long}"


# What a box is, by kind: only harness/platform (and the catalog that validates it) may
# decide anything by it. Everything else asks the box's platform.
BOX_KINDS = {"family", "package_format", "package_manager", "init"}
PLATFORM_LAYER = ("harness/platform/", "harness/catalog.py")
PRODUCT = ["harness", "builds", "verification", "signoff", "suites"]
# Commands of one package manager or init system, spelled out outside the platform.
KIND_COMMANDS = ("systemctl", "dpkg-query", "apt-get", "yum ", "rpm -q", "chkconfig", "service ")


def _kind_name(node: ast.AST) -> str | None:
    name = node.attr if isinstance(node, ast.Attribute) else getattr(node, "id", None)
    return name if name in BOX_KINDS else None


def _literals(node: ast.AST) -> bool:
    elements = node.elts if isinstance(node, ast.Tuple | ast.List | ast.Set) else [node]
    return all(isinstance(e, ast.Constant) and isinstance(e.value, str) for e in elements)


def _indexes_a_table_by_kind(node: ast.Subscript) -> bool:
    return isinstance(node.value, ast.Dict) and _kind_name(node.slice) is not None


def branches_on_box_kind(tree: ast.AST) -> list[int]:
    """Lines comparing a box kind with a literal (`box.init == "systemd"`), or indexing a
    table by one (`{...}[spec.family]`)."""
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Compare):
            sides = [node.left, *node.comparators]
            if any(_kind_name(s) for s in sides) and any(_literals(s) for s in sides):
                found.append(node.lineno)
        elif isinstance(node, ast.Subscript) and _indexes_a_table_by_kind(node):
            found.append(node.lineno)
    return found


def product_files():
    for package in PRODUCT:
        for path in sorted((REPO_ROOT / package).rglob("*.py")):
            relative = str(path.relative_to(REPO_ROOT))
            if not relative.startswith(PLATFORM_LAYER):
                yield relative, path.read_text()


def test_only_the_platform_branches_on_a_box_kind():
    found = [
        f"{relative}:{line}"
        for relative, text in product_files()
        for line in branches_on_box_kind(ast.parse(text))
    ]
    assert not found, f"branch on a box's family, package format or init system: {found}"


def test_the_guard_sees_a_branch_on_a_box_kind():
    for code in (
        'if box.init == "systemd": pass',
        'x = spec.family in ("debian", "ubuntu")',
        'x = {"debian": 1}[spec.family]',
        'if machine.spec.package_manager != "apt": pass',
    ):
        assert branches_on_box_kind(ast.parse(code)), code
    assert not branches_on_box_kind(ast.parse("x = fmt != other.package_format"))


def test_suites_spell_no_command_of_one_init_system_or_package_manager():
    found = [
        f"{relative}: {word.strip()}"
        for relative, text in product_files()
        if relative.startswith("suites/")
        for word in KIND_COMMANDS
        if word in text
    ]
    assert not found, f"ask the box's platform instead: {found}"


def test_the_staging_code_never_tests_a_defect():
    staging = (REPO_ROOT / "builds/payload.py").read_text()
    tests = [
        node.lineno
        for node in ast.walk(ast.parse(staging))
        if isinstance(node, ast.Compare)
        and any(
            getattr(side, "attr", getattr(side, "id", None)) == "defect"
            for side in [node.left, *node.comparators]
        )
    ]
    assert not tests, f"builds/payload.py tests a defect's name at lines {tests}"


def test_every_setting_is_read_through_settings_and_documented():
    from harness import settings

    readme = (REPO_ROOT / "README.md").read_text()
    named = {v.name for v in settings.VARIABLES}
    undocumented = sorted(n for n in named if f"`{n}`" not in readme)
    assert not undocumented, f"settings missing from the README's Environment table: {undocumented}"
    direct = [
        relative
        for relative, text in product_files()
        if relative != "harness/settings.py"
        and any(f'environ.get("{n}"' in text or f'environ["{n}"]' in text for n in named)
    ]
    assert not direct, f"read an SVH_* setting outside harness/settings.py: {direct}"


# Host commands go through harness/runner.py; these stream between two processes instead.
PIPES = {
    "harness/providers/nspawn/provider.py",  # the box's systemd-nspawn, for its whole life
    "harness/transport.py",  # tar and cat streams joined to the box's SSH session
    "builds/rpm.py",  # rpm2cpio | cpio
    "builds/lockgen.py",  # uv pip compile, a maintainer's tool
}


def test_host_commands_go_through_the_runner():
    direct = [
        relative
        for relative, text in product_files()
        if relative not in PIPES | {"harness/runner.py"}
        and ("subprocess.run(" in text or "subprocess.Popen(" in text)
    ]
    assert not direct, f"run host commands with harness.runner (capture, tee, run_logged): {direct}"
