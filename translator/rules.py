"""Registries of the pure IR rules: shape inference and per-framework weight tensors.

Family modules under ``translator.ops`` fill them with ``@shape_rule("LSTM")`` and
``@weight_rule("LSTM")``. Neither kind of rule imports a framework.

* A shape rule gets the node (normalized ``args``, ``input_shapes`` set) and returns the
  output shapes as a tuple (one per output tensor). It raises ``node.shape_error(...)``.
* A weight rule gets the shape-inferred node and returns ``{framework: (WeightSpec, ...)}``
  for every framework in ``translator.ir.FRAMEWORKS``.
"""

from __future__ import annotations

from collections.abc import Callable

from translator.ir import Node, Shape, WeightSpec
from translator.registry import Registry

ShapeRule = Callable[[Node], tuple[Shape, ...]]
WeightRule = Callable[[Node], dict[str, tuple[WeightSpec, ...]]]

SHAPES: Registry[ShapeRule] = Registry("shape rule")
WEIGHTS: Registry[WeightRule] = Registry("weight rule")


def shape_rule(*types: str) -> Callable[[ShapeRule], ShapeRule]:
    """Register a shape-inference rule for one or more layer types."""
    return SHAPES.register(*types)


def weight_rule(*types: str) -> Callable[[WeightRule], WeightRule]:
    """Register a weight-tensor rule for one or more layer types."""
    return WEIGHTS.register(*types)


NO_WEIGHTS: dict[str, tuple[WeightSpec, ...]] = {"keras": (), "torch": (), "onnx": ()}


def no_weights(node: Node) -> dict[str, tuple[WeightSpec, ...]]:
    """The weight rule of every layer that creates no tensors in any framework."""
    return dict(NO_WEIGHTS)
