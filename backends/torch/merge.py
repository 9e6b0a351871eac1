"""Merge layers: Add, Multiply, Subtract, Average, Maximum, Minimum and Concatenate. None has
weights.

The element-wise merges fold their inputs left to right, as Keras's ``_merge_function`` does
(Average divides the running sum by the number of inputs at the end). The modules are the
standalone ones (``backends/torch/standalone/layers.py``) that ``export`` copies into
``model.py``.
"""

from __future__ import annotations

from backends.torch.model import describes
from backends.torch.standalone.assemble import Call, call
from backends.torch.standalone.describe import arguments
from translator.ir import Node

# Layer type → the function ``Elementwise`` folds over its inputs (``ELEMENTWISE``'s keys).
ELEMENTWISE = {
    "Multiply": "multiply",
    "Subtract": "subtract",
    "Average": "average",
    "Maximum": "maximum",
    "Minimum": "minimum",
}


@describes("Add")
def describe_add(node: Node) -> Call:
    """Add() → ``Add``."""
    return call("Add")


@describes(*ELEMENTWISE)
def describe_elementwise(node: Node) -> Call:
    """Multiply/Subtract/Average/Maximum/Minimum() → ``Elementwise`` of that function."""
    return call("Elementwise", ELEMENTWISE[node.type])


@describes("Concatenate")
def describe_concatenate(node: Node) -> Call:
    """Concatenate(axis=-1) → ``Concatenate``."""
    return call("Concatenate", **arguments(node, "axis"))
