"""Each layer type lives in one place: its IR family module, its three backend family modules
and at most one catalogue name it; every registered type has every required piece."""

from __future__ import annotations

import ast
from collections import defaultdict
from pathlib import Path

import pytest

import translator.ops  # noqa: F401  (fills the registries)
from translator.errors import InternalError
from translator.ir.registries import check_complete
from translator.spec.schema import SCHEMAS
from translator.weights.maps import MAPS

ROOT = Path(__file__).resolve().parents[3]
PRODUCTION = sorted([*ROOT.glob("translator/**/*.py"), *ROOT.glob("backends/**/*.py")])
# Calls whose first argument is an ONNX operator type, which can coincide with a layer type
# ("Add", "Reshape", "Softmax", "LSTM") without naming it.
ONNX_OPERATOR_CALLS = frozenset({"op", "make_node", "_unary"})
MAX_MODULES = 5  # the IR family module, three backend family modules, one catalogue


def _docstrings(tree: ast.AST) -> set[int]:
    kinds = (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)
    return {
        id(node.body[0].value)
        for node in ast.walk(tree)
        if isinstance(node, kinds)
        and node.body
        and isinstance(node.body[0], ast.Expr)
        and isinstance(node.body[0].value, ast.Constant)
    }


def _operator_names(tree: ast.AST) -> set[int]:
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Call) and node.args:
            func = node.func
            name = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", "")
            if name in ONNX_OPERATOR_CALLS:
                found.add(id(node.args[0]))
    return found


def modules_naming_types() -> dict[str, set[str]]:
    """Layer type → the production modules with a string literal equal to it."""
    types, where = set(SCHEMAS), defaultdict(set)
    for path in PRODUCTION:
        tree = ast.parse(path.read_text(encoding="utf-8"))
        skip = _docstrings(tree) | _operator_names(tree)
        for node in ast.walk(tree):
            if isinstance(node, ast.Constant) and node.value in types and id(node) not in skip:
                where[node.value].add(str(path.relative_to(ROOT)))
    return where


NAMED = modules_naming_types()


@pytest.mark.parametrize("layer_type", sorted(SCHEMAS))
def test_layer_type_is_named_in_at_most_five_modules(layer_type: str) -> None:
    modules = sorted(NAMED.get(layer_type, ()))
    assert len(modules) <= MAX_MODULES, f"{layer_type} is named in {len(modules)}: {modules}"


def test_the_checker_sees_a_type_named_in_a_family_module() -> None:
    assert "translator/ops/recurrent.py" in NAMED["LSTM"]
    assert "backends/onnx/recurrent.py" in NAMED["LSTM"]


def test_registry_check_names_every_missing_piece() -> None:
    with pytest.raises(InternalError) as caught:
        check_complete(["NoSuchLayer", *SCHEMAS], MAPS)
    text = str(caught.value)
    assert "NoSuchLayer: no shape rule" in text
    assert "NoSuchLayer: no weight rule" in text


def test_registries_are_complete() -> None:
    check_complete(list(SCHEMAS), MAPS)


@pytest.mark.parametrize(
    "history", ["weightmap_breadth", "weightmap", "porting", "rules", "formulas"]
)
def test_no_module_is_named_after_project_history(history: str) -> None:
    assert not [p for p in PRODUCTION if p.stem == history]
