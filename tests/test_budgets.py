"""Size budgets, in the spirit of tinygrad's line-count check: a module that outgrows its
budget fails the suite, so no file grows into a monolith. Budgets never justify code golf."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from tests.conftest import ROOT

BUDGETS = {"backends": 320, "translator": 520}  # lines per module (house style: ~300 / ~500)
FUNCTION_BUDGET = 70  # lines per function (house style: p90 ceiling about 60)
MODULES = sorted(p for top in BUDGETS for p in (ROOT / top).rglob("*.py"))


def _id(path: Path) -> str:
    return str(path.relative_to(ROOT))


@pytest.mark.parametrize("path", MODULES, ids=_id)
def test_module_within_budget(path: Path) -> None:
    budget = BUDGETS[path.relative_to(ROOT).parts[0]]
    lines = len(path.read_text(encoding="utf-8").splitlines())
    assert lines <= budget, f"{_id(path)} has {lines} lines; split it (budget {budget})"


@pytest.mark.parametrize("path", MODULES, ids=_id)
def test_functions_within_budget(path: Path) -> None:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    for node in ast.walk(tree):
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            length = (node.end_lineno or node.lineno) - node.lineno + 1
            assert length <= FUNCTION_BUDGET, (
                f"{_id(path)}:{node.lineno} {node.name} has {length} lines"
            )
