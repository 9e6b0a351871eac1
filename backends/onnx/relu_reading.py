"""Reading Keras's ReLU as the translator's ONNX export writes it out (``activation``'s
builder), claimed as one ReLU layer (``PATTERNS``, at its first node in file order):
``Where(Greater(x, t), x, 0)`` or ``Relu(x)``, then ``Clip(y, 0, cap)``, then
``y - Relu(t - x) · slope``. A bare ``Relu`` is left to the activation recognisers; any
other operand or reader of a step makes it no match.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import onnx

from backends.onnx.importing import PATTERNS, Reading, Recogniser

RELU_OP = "Relu"


@dataclass
class WrittenReLU:
    """One match: its input, the nodes (in the order of the steps) and ReLU's arguments."""

    x: str
    nodes: list[onnx.NodeProto]
    args: dict[str, Any] = field(default_factory=dict)

    @property
    def output(self) -> str:
        return str(self.nodes[-1].output[0])


def _number(r: Reading, tensor: str) -> float | None:
    """The value of a one-element constant (as float32 holds it, to 7 digits), else None."""
    value = r.const(tensor) if tensor else None
    if value is None or value.size != 1:
        return None
    return round(float(np.float32(value.reshape(-1)[0])), 7)


def _base(r: Reading, node: onnx.NodeProto) -> WrittenReLU | None:
    """``Relu(x)``, or ``Where(Greater(x, t), x, 0)`` from its Greater."""
    if node.op_type == RELU_OP:
        return WrittenReLU(node.input[0], [node], {"threshold": 0.0})
    threshold = _number(r, node.input[1]) if node.op_type == "Greater" else None
    chosen = r.reader(node.output[0])
    if threshold is None or chosen is None or chosen.op_type != "Where":
        return None
    zero = _number(r, chosen.input[2])
    if list(chosen.input[:2]) != [node.output[0], node.input[0]] or zero != 0.0:
        return None
    return WrittenReLU(node.input[0], [node, chosen], {"threshold": threshold})


def _capped(r: Reading, match: WrittenReLU) -> None:
    """The Clip(y, 0, cap) after the match so far, taken in."""
    clip = r.reader(match.output)
    if clip is None or clip.op_type != "Clip" or len(clip.input) != 3:
        return
    if _number(r, clip.input[1]) == 0.0 and _number(r, clip.input[2]) is not None:
        match.nodes.append(clip)
        match.args["max_value"] = _number(r, clip.input[2])


def _sloped(r: Reading, match: WrittenReLU) -> None:
    """The ``y - Relu(t - x) · slope`` after the match so far, taken in."""
    last = r.reader(match.output)
    if last is None or last.op_type != "Sub" or last.input[0] != match.output:
        return
    scaled = r.source.producers.get(last.input[1])
    if scaled is None or scaled.op_type != "Mul" or r.reader(scaled.output[0]) is not last:
        return
    ordered = scaled.input if _number(r, scaled.input[0]) is None else scaled.input[::-1]
    rectified, slope = r.source.producers.get(ordered[0]), _number(r, ordered[1])
    if rectified is None or rectified.op_type != RELU_OP or not slope:
        return
    below = r.source.producers.get(rectified.input[0])
    if below is None or below.op_type != "Sub" or r.reader(rectified.output[0]) is not scaled:
        return
    fits = below.input[1] == match.x and _number(r, below.input[0]) == match.args["threshold"]
    if fits and r.reader(below.output[0]) is rectified:
        match.nodes.extend([below, rectified, scaled, last])
        match.args["negative_slope"] = slope


def written_relu(r: Reading, node: onnx.NodeProto) -> WrittenReLU | None:
    """The written-out ReLU starting at ``node`` (its Relu or Greater) with a cap, a slope
    or a threshold, or None."""
    match = _base(r, node)
    if match is None:
        return None
    _capped(r, match)
    _sloped(r, match)
    return match if len(match.nodes) > 1 else None


@PATTERNS.register("KerasReLU")
def find_keras_relu(r: Reading) -> dict[int, Recogniser]:
    """Every written-out ReLU → ReLU(max_value, negative_slope, threshold), claimed at its
    first node in file order."""
    order = {id(n): i for i, n in enumerate(r.source.model.graph.node)}
    found: dict[int, Recogniser] = {}
    for node in r.source.model.graph.node:
        match = written_relu(r, node) if node.op_type in (RELU_OP, "Greater") else None
        if match is not None:
            found[id(min(match.nodes, key=lambda n: order[id(n)]))] = _recogniser(match)
    return found


def _recogniser(match: WrittenReLU) -> Recogniser:
    def recognise(r: Reading, node: onnx.NodeProto) -> None:
        x = r.view(match.x)
        r.add(node, {"type": "ReLU", **match.args}, [x], {match.output: x.axes})
        for claimed in match.nodes:
            r.claim(claimed)

    return recognise
