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
