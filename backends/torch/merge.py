"""Merge layers: Add, Multiply, Subtract, Average, Maximum, Minimum and Concatenate. None has
weights.

The element-wise merges fold their inputs left to right, as Keras's ``_merge_function`` does
(Average divides the running sum by the number of inputs at the end). The modules are the
standalone ones (``backends/torch/standalone/layers.py``) that ``export`` copies into
``model.py``, except where ``model.py`` writes the operation itself: ``x + y``, ``x * y``,
``x - y`` and ``torch.cat([x, y], dim=...)``.
"""

from __future__ import annotations

from typing import Any

from backends.torch.importing import FUNCTIONS, ModuleCall, Reading, Refused, arg
from backends.torch.model import describes
from backends.torch.standalone.assemble import Description, Steps, call
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


# Layer type → the Python operator ``model.py`` writes between its inputs.
OPERATORS = {"Add": " + ", "Multiply": " * ", "Subtract": " - "}


@describes("Add")
def describe_add(node: Node) -> Description:
    """Add() → ``x + y`` in ``model.py`` (``Add`` in the backend, to measure)."""
    return Steps(call("Add"), infix=OPERATORS[node.type])


@describes(*ELEMENTWISE)
def describe_elementwise(node: Node) -> Description:
    """Multiply/Subtract/Average/Maximum/Minimum() → ``Elementwise`` of that function
    (``x * y`` and ``x - y`` written as such in ``model.py``)."""
    main = call("Elementwise", ELEMENTWISE[node.type])
    return Steps(main, infix=OPERATORS[node.type]) if node.type in OPERATORS else main


@describes("Concatenate")
def describe_concatenate(node: Node) -> Description:
    """Concatenate(axis=-1) → ``torch.cat([x, y], dim=axis)`` in ``model.py``, the axis in
    the physical layout (``Concatenate`` in the backend, to measure)."""
    main = call("Concatenate", **arguments(node, "axis"))
    return Steps(main, function=call("torch.cat", dim=node.physical_args["axis"]))


# Importing: ``a + b``, ``a - b``, ``a * b`` of two layers' outputs → Add, Subtract,
# Multiply; torch.cat → Concatenate. A constant or scalar operand has no merge equivalent.
MERGE_TYPES = {"Add": "Add", "Sub": "Subtract", "Mul": "Multiply"}


@FUNCTIONS.register(*MERGE_TYPES)
def read_merge(r: Reading, call: ModuleCall) -> None:
    """a + b, a - b, a * b of two layers' outputs → Add, Subtract, Multiply."""
    node = call.nodes[0]
    operands = list(node.args[:2])
    if arg(node, 2, "alpha", 1) != 1 or not all(
        hasattr(o, "meta") and o in r.refs for o in operands
    ):
        raise Refused("one operand is a constant or a scalar, which no spec merge takes")
    r.add(call, {"type": MERGE_TYPES[call.cls]}, operands, node)


@FUNCTIONS.register("Cat")
def read_cat(r: Reading, call: ModuleCall) -> None:
    """torch.cat(tensors, dim) → Concatenate(axis)."""
    node = call.nodes[0]
    rank = len(Reading.shape(node))
    axis = arg(node, 1, "dim", 0) % rank
    if axis == 0:
        raise Refused("it joins along the batch axis")
    layer = {"type": "Concatenate", "axis": -1 if axis == rank - 1 else axis}
    r.add(call, layer, _tensors(r, list(node.args[0])), node)


def _tensors(r: Reading, nodes: list[Any]) -> list[Any]:
    """``nodes`` with a layer of two outputs (a Bidirectional of merge_mode null) named once:
    in a spec, naming the layer names both."""
    kept: list[Any] = []
    for node in nodes:
        ref = r.value(node)
        entry = next((e for e in r.layers if e["name"] == ref), {})
        two = "merge_mode" in entry and entry["merge_mode"] is None
        if not (two and kept and r.value(kept[-1]) == ref):
            kept.append(node)
    return kept
