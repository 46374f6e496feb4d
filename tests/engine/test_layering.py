"""The engine's shape: no import cycles, no demo imports, small modules, a public surface."""

from __future__ import annotations

import ast
import re
import subprocess
import sys
from pathlib import Path

import pytest

import pruning_core

ROOT = Path(__file__).resolve().parents[2]
PACKAGE = ROOT / "pruning_core"
MODULES = sorted(PACKAGE.rglob("*.py"))
MAX_LINES = 300


def _relative(path: Path) -> str:
    return str(path.relative_to(ROOT))


@pytest.fixture(scope="module")
def import_report() -> str:
    """What ``scripts/import_graph.py`` prints about the engine."""
    done = subprocess.run(
        [sys.executable, "scripts/import_graph.py", "pruning_core"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode in (0, 1), done.stdout + done.stderr  # 1: a cycle or layer breach
    return done.stdout


def _count(report: str, heading: str) -> int:
    found = re.search(rf"^{heading}.*: (\d+)$", report, re.MULTILINE)
    assert found is not None, f"no '{heading}' count in:\n{report}"
    return int(found.group(1))


def test_import_graph_has_no_cycles(import_report: str) -> None:
    assert _count(import_report, "import cycles") == 0, import_report


def test_no_package_imports_one_from_a_higher_layer(import_report: str) -> None:
    assert _count(import_report, "imports from a higher layer") == 0, import_report


def _called(node: ast.Call) -> str:
    if isinstance(node.func, ast.Attribute):
        return node.func.attr
    return node.func.id if isinstance(node.func, ast.Name) else ""


def _imported(tree: ast.AST) -> list[str]:
    """Absolute module names imported, including ``import_module("...")`` of a literal."""
    names = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names += [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names.append(node.module)
        elif (
            isinstance(node, ast.Call)
            and _called(node) in ("import_module", "__import__")
            and node.args
            and isinstance(node.args[0], ast.Constant)
            and isinstance(node.args[0].value, str)
        ):
            names.append(node.args[0].value)
    return names


def test_the_engine_never_imports_the_sample_models() -> None:
    offenders = [
        f"{_relative(path)} imports {name}"
        for path in MODULES
        for name in _imported(ast.parse(path.read_text(), filename=str(path)))
        if name == "sample_models" or name.startswith("sample_models.")
    ]
    assert offenders == []


def test_no_engine_module_is_longer_than_300_lines() -> None:
    lines = {path: len(path.read_text().splitlines()) for path in MODULES}
    too_long = {_relative(path): count for path, count in lines.items() if count > MAX_LINES}
    assert too_long == {}


def test_every_public_name_resolves() -> None:
    assert len(pruning_core.__all__) == len(set(pruning_core.__all__)), "a name is listed twice"
    missing = []
    for name in pruning_core.__all__:
        try:
            getattr(pruning_core, name)
        except (AttributeError, ImportError) as error:
            missing.append(f"{name}: {error}")
    assert missing == []
    # what issue 10 asks of the surface, and what a plugin needs
    assert {"Recipe", "check", "prune", "RunStore", "register_model", "ModelSpec", "Split"} <= set(
        pruning_core.__all__
    )
