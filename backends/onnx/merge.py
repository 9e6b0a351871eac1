"""Merge layers: Add, Multiply, Subtract, Average, Maximum, Minimum and Concatenate.

Each element-wise merge combines its inputs left to right, as Keras does, so the float
results match Keras's to the last bit where the operator order allows.
"""

from __future__ import annotations

import onnx

from backends.onnx.importing import RECOGNISERS, Reading, Refused, View, attributes
from backends.onnx.model import BUILDERS, Builder, Layer
from backends.onnx.reshape import made_plain


def _fold(op_type: str) -> Builder:
    """A builder applying the binary ``op_type`` left to right over all inputs."""

    def build(layer: Layer, inputs: list[str]) -> list[str]:
        y = inputs[0]
        for x in inputs[1:]:
            y = layer.op(op_type, [y, x])
        return [y]

    build.__doc__ = f"Element-wise {op_type} of two or more inputs, left to right."
    return build


# Layer type → the binary ONNX operator Keras's merge applies pairwise.
FOLDS = {"Add": "Add", "Multiply": "Mul", "Subtract": "Sub", "Maximum": "Max", "Minimum": "Min"}
# The ONNX operators of a sum and of a product, for the recognisers of other families.
SUM_OP, PRODUCT_OP = FOLDS["Add"], FOLDS["Multiply"]
for _type, _op in FOLDS.items():
    BUILDERS.register(_type)(_fold(_op))


@BUILDERS.register("Average")
def build_average(layer: Layer, inputs: list[str]) -> list[str]:
    """Average(): Keras sums the inputs left to right, then divides by their number."""
    (total,) = BUILDERS["Add"](layer, inputs)
    return [layer.op("Div", [total, layer.const("count", float(len(inputs)))])]


@BUILDERS.register("Concatenate")
def build_concatenate(layer: Layer, inputs: list[str]) -> list[str]:
    """Concatenate(axis=-1): Keras counts axes with the batch as 0, exactly as ONNX does."""
    return [layer.op("Concat", inputs, axis=layer.args["axis"])]


# Importing: Add, Sub and Mul of two layers' outputs → Add, Subtract, Multiply; Concat →
# Concatenate on the spec axis ONNX's axis shows. A constant operand (a scale, a shift) has
# no merge equivalent and is refused.
MERGE_TYPES = {op: type_ for type_, op in FOLDS.items()}


def _views(r: Reading, node: onnx.NodeProto) -> list[View]:
    """The inputs, all outputs of layers, all seen with the same axes."""
    if any(r.source.is_const(t) or t in r.static for t in node.input):
        raise Refused("one operand is a constant, which no spec merge takes")
    views = [r.view(t) for t in node.input]
    if len({v.axes for v in views}) != 1:  # a Permute first, where that is all it takes
        views = [made_plain(r, t) for t in node.input]
    if len({v.axes for v in views}) != 1:
        raise Refused(f"its inputs are laid out differently ({[v.axes for v in views]})")
    return views


@RECOGNISERS.register(*MERGE_TYPES)
def read_merge(r: Reading, node: onnx.NodeProto) -> None:
    """Add/Sub/Mul/Max/Min of two layers' outputs → Add/Subtract/Multiply/Maximum/Minimum."""
    views = _views(r, node)
    layer = {"type": MERGE_TYPES[node.op_type]}
    r.add(node, layer, views, {node.output[0]: views[0].axes})


@RECOGNISERS.register("Concat")
def read_concat(r: Reading, node: onnx.NodeProto) -> None:
    """Concat(axis) → Concatenate(axis), the spec axis ONNX's axis shows."""
    views = _views(r, node)
    axes = views[0].axes
    axis = axes[attributes(node)["axis"] % len(axes)]
    if axis is None or axis == 0:
        raise Refused("it joins along an axis the spec does not have")
    axis = -1 if axis == max(a for a in axes if a is not None) else axis
    layer = {"type": "Concatenate", "axis": axis}
    r.add(node, layer, _once(r, views), {node.output[0]: axes})


def _once(r: Reading, views: list[View]) -> list[View]:
    """``views`` with a layer of two outputs (a Bidirectional of merge_mode null) named
    once: in a spec, naming the layer names both."""
    kept: list[View] = []
    for view in views:
        entry = next((e for e in r.layers if e["name"] == view.ref), {})
        two = "merge_mode" in entry and entry["merge_mode"] is None
        if not (two and kept and kept[-1].ref == view.ref):
            kept.append(view)
    return kept
