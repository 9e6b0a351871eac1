"""Registries of what each layer type knows without a framework, filled by its family module.

Family modules under ``translator.ops`` fill them with decorators keyed by the canonical
(Keras) type name; registering a type twice raises. None of these rules imports a framework.

* ``@shape_rule("LSTM")``: gets the node (normalized ``args``, ``input_shapes`` set) and
  returns the output shapes as a tuple (one per output tensor). It raises
  ``node.shape_error(...)``.
* ``@weight_rule("LSTM")``: gets the shape-inferred node and returns
  ``{framework: (WeightSpec, ...)}`` for every framework in ``translator.ir.FRAMEWORKS``.
* ``@formula_rule("LSTM")``: the Keras parameter count as a formula with its numbers, for
  ``explain`` (optional: without one, the sum of the tensors).
* ``conversions("BatchNormalization", momentum=...)``: what a hyperparameter's spec value
  becomes in each framework, as ``port`` names it (optional).

The weight map to the canonical layout is the fourth piece (``translator.weights.maps``); the
layout facts export needs are fields of the schema entry (``translator.spec.schema``).
``check_complete`` (run once every family is imported) fails loudly when a registered type
misses a required piece or a piece names an unregistered type.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from translator.errors import InternalError
from translator.ir.graph import Node, Shape, WeightSpec
from translator.registry import Registry

ShapeRule = Callable[[Node], tuple[Shape, ...]]
WeightRule = Callable[[Node], dict[str, tuple[WeightSpec, ...]]]
FormulaRule = Callable[[Node], str]
# A spec value → what it becomes in each framework, or None when nothing is converted.
Conversion = Callable[[Any], "str | None"]

SHAPES: Registry[ShapeRule] = Registry("shape rule")
WEIGHTS: Registry[WeightRule] = Registry("weight rule")
FORMULAS: Registry[FormulaRule] = Registry("formula")
# Per layer type, argument → conversion, in the order ``port`` lists them. The argument ""
# is a note for every layer of the type, whatever its arguments.
CONVERSIONS: Registry[dict[str, Conversion]] = Registry("hyperparameter conversions")


def shape_rule(*types: str) -> Callable[[ShapeRule], ShapeRule]:
    """Register a shape-inference rule for one or more layer types."""
    return SHAPES.register(*types)


def weight_rule(*types: str) -> Callable[[WeightRule], WeightRule]:
    """Register a weight-tensor rule for one or more layer types."""
    return WEIGHTS.register(*types)


def formula_rule(*types: str) -> Callable[[FormulaRule], FormulaRule]:
    """Register the ``explain`` formula of one or more layer types."""
    return FORMULAS.register(*types)


def conversions(*types: str, **by_argument: Conversion) -> None:
    """Register, for one or more layer types, what each named argument's value becomes in
    each framework (``port`` lists these); ``always=`` is a note for every such layer (its
    function is given the node)."""
    table = {("" if arg == "always" else arg): render for arg, render in by_argument.items()}
    for type_ in types:
        CONVERSIONS.add(type_, table)


NO_WEIGHTS: dict[str, tuple[WeightSpec, ...]] = {"keras": (), "torch": (), "onnx": ()}


def number(value: float) -> str:
    """A hyperparameter as the notes print it: ``0.99``, ``1e-05``."""
    return f"{value:g}"


def no_weights(node: Node) -> dict[str, tuple[WeightSpec, ...]]:
    """The weight rule of every layer that creates no tensors in any framework."""
    return dict(NO_WEIGHTS)


def formula(node: Node) -> str:
    """The Keras parameter count of ``node`` as a formula with its numbers."""
    rule = FORMULAS.get(node.type)
    total = node.counts("keras")["total"]
    sizes = [w.size for w in node.weights["keras"]]
    if not sizes:
        return "no weights = 0"  # whatever the rule: all its terms are off (no scale, no bias)
    if rule is not None:
        return f"{rule(node)} = {total:,}"
    return " + ".join(f"{s:,}" for s in sizes) + f" = {total:,}"


def check_complete(types: list[str], maps: Registry[Any]) -> None:
    """Every type in ``types`` (the schema's) has a shape rule, a weight rule, and a weight
    map unless it never has weights; every optional piece names a registered type. Raises
    ``InternalError`` listing what is missing (a translator bug, found at import time)."""
    known = set(types)
    problems = [f"{t}: no shape rule" for t in types if t not in SHAPES]
    problems += [f"{t}: no weight rule" for t in types if t not in WEIGHTS]
    problems += [
        f"{t}: has weights but no weight map"
        for t in types
        if t in WEIGHTS and WEIGHTS[t] is not no_weights and t not in maps
    ]
    for registry in (SHAPES, WEIGHTS, FORMULAS, CONVERSIONS, maps):
        problems += [f"{registry.concern} for unknown type {t}" for t in registry if t not in known]
    if problems:
        raise InternalError("layer registry incomplete: " + "; ".join(problems))
