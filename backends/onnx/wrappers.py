"""Wrappers: TimeDistributed and Bidirectional.

A wrapped layer is built by its own builder on a ``Layer`` whose owner stays the wrapper, so
its initializers are ``<wrapper>.<tensor>``, as the IR names them.
"""

from __future__ import annotations

from collections.abc import Callable

import onnx

from backends.onnx import recurrent
from backends.onnx.importing import RECOGNISERS, Reading, Refused, View, attributes
from backends.onnx.model import BUILDERS, Layer
from backends.onnx.reshape import SPEC_ORDER_OPS, made_plain
from backends.onnx.sized_reading import keeps_whole

Merge = Callable[[Layer, str, str], list[str]]


@BUILDERS.register("TimeDistributed")
def build_time_distributed(layer: Layer, inputs: list[str]) -> list[str]:
    """TimeDistributed(layer): fold time into the batch, apply the layer, unfold.

    The shapes are taken at run time, so free batch and time sizes work."""
    inner = layer.node.wrapped
    (x,) = inputs
    steps = layer.op("Shape", [x], start=0, end=2)
    folded = layer.op(
        "Concat", [layer.ints("minus_one", [-1]), layer.op("Shape", [x], start=2)], axis=0
    )
    outputs = BUILDERS[inner.type](layer.wrapped(inner), [layer.op("Reshape", [x, folded])])
    return [
        layer.op(
            "Reshape", [y, layer.op("Concat", [steps, layer.op("Shape", [y], start=1)], axis=0)]
        )
        for y in outputs
    ]


def _average(layer: Layer, forward: str, backward: str) -> list[str]:
    total = layer.op("Add", [forward, backward])
    return [layer.op("Div", [total, layer.const("two", 2.0)])]


# Keras's merge modes; None keeps the two directions as two outputs.
MERGES: dict[str | None, Merge] = {
    "concat": lambda layer, f, b: [layer.op("Concat", [f, b], axis=-1)],
    "sum": lambda layer, f, b: [layer.op("Add", [f, b])],
    "mul": lambda layer, f, b: [layer.op("Mul", [f, b])],
    "ave": _average,
    None: lambda layer, f, b: [f, b],
}


@BUILDERS.register("Bidirectional")
def build_bidirectional(layer: Layer, inputs: list[str]) -> list[str]:
    """Bidirectional(layer, merge_mode="concat"): one ONNX operator with
    direction="bidirectional"; W, R and B stack the forward then the backward weights.

    ONNX returns the backward run in time order, which is what Keras produces after flipping
    its backward layer's output."""
    inner = layer.node.wrapped
    x = inputs[0]
    if inner.args["go_backwards"]:
        # Then the forward copy runs backwards and the backward copy forwards (tf.keras's
        # rule; Keras 3 refuses the spec): both equal a bidirectional run on the reversed input.
        x = recurrent.reverse_time(layer, x)
    forward, backward = recurrent.rnn_outputs(layer.wrapped(inner), x, "bidirectional")
    return MERGES[layer.args["merge_mode"]](layer, forward, backward)


# Importing: the Slice reversing time before a recurrent layer (``go_backwards``, which the
# export writes before the time-first Transpose of the operator's input) is no layer: the
# recurrent operator reading it takes it in (``recurrent.reversed_input``).


@RECOGNISERS.register("Slice")
def read_time_reversal(r: Reading, node: onnx.NodeProto) -> None:
    """A Slice keeping every element → no layer. Slice(x, -1, -inf, axes=[time], steps=[-1])
    read, through a Transpose, by recurrent operators only → no layer; its output is seen as
    ``x`` until they take the flip in. The one after a reverse run
    (``recurrent.flipped_back``) is part of its go_backwards too."""
    x = r.view(node.input[0])
    if keeps_whole(r.source, node):  # x[:, 0:INT64_MAX], or to the length read off x
        r.views[node.output[0]] = x
        return
    if not recurrent.reverses_time(r, node, x.axes):
        raise Refused("a Slice other than a time reversal before recurrent layers")
    runs = [n for n in r.source.model.graph.node if n.op_type in recurrent.SPEC_TYPES]
    if any(recurrent.flipped_back(r, run) is node for run in runs):
        r.views[node.output[0]] = x  # a reverse run's sequence, in processing order again
        return
    moved = [m for m in r.source.readers.get(node.output[0], []) if m.op_type == "Transpose"]
    readers = [n for m in moved for n in r.source.readers.get(m.output[0], [])]
    if len(moved) != len(r.source.readers.get(node.output[0], [])) or not all(
        n.op_type in recurrent.SPEC_TYPES for n in readers
    ):
        raise Refused("a time reversal read by other than recurrent layers")
    r.views[node.output[0]] = x


# Importing: the translator's TimeDistributed around a layer of more than vectors (a Dense
# on the steps is read as a Dense on the last axis, by ``reshape``): the Reshape folding the
# steps into the batch (its shape ``Concat(-1, Shape(x, start=2))``) shows each step as the
# spec tensor without its time axis; the one layer read from the nodes after it is wrapped
# when the Reshape unfolding them (``Concat(Shape(x, 0, 2), Shape(y, start=1))``) is met.


def time_folding(r: Reading, node: onnx.NodeProto) -> bool:
    """Whether ``node`` is TimeDistributed's folding or unfolding Reshape, read if so."""
    concat = r.source.producers.get(node.input[1])
    if concat is None or concat.op_type != "Concat" or len(concat.input) != 2:
        return False
    first, second = (r.source.producers.get(t) for t in concat.input)
    if second is None or second.op_type != "Shape" or second.input[0] != node.input[0]:
        return False
    minus_one = r.const(concat.input[0])
    if minus_one is not None and minus_one.tolist() == [-1]:
        if attributes(second).get("start") != 2 or len(r.view(node.input[0]).axes) < 4:
            return False  # vectors per step: a Dense, read on the last axis
        _fold(r, node)
        return True
    bounds = (
        None if first is None else (attributes(first).get("start"), attributes(first).get("end"))
    )
    if first is None or first.op_type != "Shape" or bounds != (0, 2):
        return False
    _unfold(r, node)
    return True


def _fold(r: Reading, node: onnx.NodeProto) -> None:
    """Each step seen as the spec tensor without its time axis (a Flatten of each needs the
    spec's order: a Permute first where the steps lie otherwise)."""
    readers = r.source.readers.get(node.output[0], [])
    ordered = any(n.op_type in SPEC_ORDER_OPS for n in readers)
    x = made_plain(r, node.input[0]) if ordered else r.view(node.input[0])
    if x.axes[1] != 1 or None in x.axes:
        raise Refused("it folds into the batch another axis than the steps")
    axes = [a for a in x.axes if a is not None]
    per_step = tuple(a if a == 0 else a - 1 for i, a in enumerate(axes) if i != 1)
    r.views[node.output[0]] = View(x.ref, per_step)


def _unfold(r: Reading, node: onnx.NodeProto) -> None:
    """The one layer read since the folding, wrapped in TimeDistributed."""
    y = r.view(node.input[0])
    entry = r.layers[-1] if r.layers else {}
    if entry.get("name") != y.ref or "type" not in entry or None in y.axes:
        raise Refused("not one layer between the steps' folding into the batch and this")
    inner = {k: v for k, v in entry.items() if k not in ("name", "inputs")}
    inputs = {"inputs": entry["inputs"]} if "inputs" in entry else {}
    r.layers[-1] = {"name": y.ref, "type": "TimeDistributed", "layer": inner, **inputs}
    r.views[node.output[0]] = View(y.ref, (0, 1, *(a + 1 for a in y.axes[1:] if a is not None)))
