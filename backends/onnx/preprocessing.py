"""Preprocessing layers: Rescaling and Normalization, as standard operators."""

from __future__ import annotations

from typing import Any

import numpy as np
import onnx

from backends.onnx.importing import PATTERNS, Reading, Recogniser, Refused
from backends.onnx.model import BUILDERS, Layer
from translator.ops.preprocessing import (
    EPSILON,
    broadcast_shape,
    constant,
    constant_shape,
    constants,
    statistics_shape,
)


@BUILDERS.register("Rescaling")
def build_rescaling(layer: Layer, inputs: list[str]) -> list[str]:
    """Rescaling(scale, offset=0.0): ``Mul`` by the scale, then ``Add`` of the offset (none when
    it is 0). The two scalars are constants, not weights."""
    y = layer.op("Mul", [inputs[0], layer.const("scale", layer.args["scale"])])
    if layer.args["offset"]:
        y = layer.op("Add", [y, layer.const("offset", layer.args["offset"])])
    return [y]


def _broadcast(layer: Layer, tensor: str) -> str:
    """A statistic as it meets the input: reshaped to the broadcast shape, unless numpy-style
    broadcasting already lines it up (the kept axes are the trailing ones)."""
    node = layer.node
    shape, broadcast = statistics_shape(node), broadcast_shape(node)
    if broadcast[len(broadcast) - len(shape) :] == shape:
        return tensor
    return layer.op("Reshape", [tensor, layer.ints("broadcast", broadcast)])


def _statistics(layer: Layer) -> tuple[str, str]:
    """Mean and variance as they meet the input: the initializers, or (given as arguments)
    constants already in the broadcast shape."""
    node = layer.node
    if constant(node):
        shape = constant_shape(node)
        mean, variance = (np.reshape(v, shape) for v in constants(node))
        return layer.const("mean", mean), layer.const("variance", variance)
    return _broadcast(layer, layer.weight("mean")), _broadcast(layer, layer.weight("variance"))


@BUILDERS.register("Normalization")
def build_normalization(layer: Layer, inputs: list[str]) -> list[str]:
    """Normalization(axis=-1, invert=False, mean=None, variance=None): ``(x - mean) / Max(Sqrt(variance), 1e-7)`` (``Sub``,
    ``Div``), or ``mean + x * ...`` (``Mul``, ``Add``); mean and variance are initializers, or
    constants when given as arguments."""
    mean, variance = _statistics(layer)
    std = layer.op("Sqrt", [variance])
    std = layer.op("Max", [std, layer.const("epsilon", EPSILON)])
    if layer.args["invert"]:
        return [layer.op("Add", [mean, layer.op("Mul", [inputs[0], std])])]
    return [layer.op("Div", [layer.op("Sub", [inputs[0], mean]), std])]


# Importing: ``(x - mean) / Max(Sqrt(variance), EPSILON)`` (Sub, Div; the statistics
# initializers, reshaped to meet the input where they must, and the root computed from
# constants alone), or ``(x - mean) · reciprocal`` (Sub, Mul: Keras's, its divisor folded
# by tf2onnx's constant folding, the variance ``1 / reciprocal²``) → Normalization over the
# axes the statistics keep.


def _statistic(value: np.ndarray | None, rank: int) -> tuple[np.ndarray, tuple[int, ...]] | None:
    """(a constant statistic as it meets a tensor of ``rank``, the ONNX axes it keeps)."""
    if value is None or value.ndim > rank:
        return None
    shaped = value.reshape((1,) * (rank - value.ndim) + value.shape)
    return shaped, tuple(i for i, size in enumerate(shaped.shape) if size != 1)


def _divided(r: Reading, div: onnx.NodeProto) -> np.ndarray | None:
    """The variance of ``/ Max(Sqrt(variance), EPSILON)``, else None."""
    floor = r.source.producers.get(div.input[1])
    if floor is None or floor.op_type != "Max" or len(floor.input) != 2:
        return None
    epsilon = r.const(floor.input[1])
    root = r.source.producers.get(floor.input[0])
    if epsilon is None or root is None or root.op_type != "Sqrt":
        return None
    if not np.isclose(float(epsilon.reshape(-1)[0]), EPSILON, rtol=1e-6, atol=0):
        return None
    return r.const(root.input[0])


def _multiplied(r: Reading, mul: onnx.NodeProto) -> np.ndarray | None:
    """The variance of ``· reciprocal`` (the root folded, ``1 / reciprocal²``), else None."""
    reciprocal = r.const(mul.input[1])
    if reciprocal is None or not np.all(reciprocal > 0):
        return None
    return np.asarray(1.0 / np.square(reciprocal.astype(np.float64)), dtype=reciprocal.dtype)


def _standardized(r: Reading, sub: onnx.NodeProto) -> tuple[onnx.NodeProto, np.ndarray] | None:
    """(the Div or Mul, the variance) of ``x - mean`` standardized (see above)."""
    scaled = r.reader(sub.output[0])
    if scaled is None or scaled.input[0] != sub.output[0] or scaled.op_type not in SCALINGS:
        return None
    variance = SCALINGS[scaled.op_type](r, scaled)
    return (scaled, variance) if variance is not None else None


SCALINGS = {"Div": _divided, "Mul": _multiplied}


@PATTERNS.register("Normalization")
def find_standardization(r: Reading) -> dict[int, Recogniser]:
    """The translator's own Normalization, and Keras's through tf2onnx (see above), claimed
    at its Sub."""
    found: dict[int, Recogniser] = {}
    for node in r.source.model.graph.node:
        if node.op_type == "Sub" and r.const(node.input[1]) is not None:
            match = _standardized(r, node)
            if match is not None:
                found[id(node)] = _standardization(node, *match)
    return found


def _standardization(sub: onnx.NodeProto, div: onnx.NodeProto, variance: Any) -> Recogniser:
    def recognise(r: Reading, node: onnx.NodeProto) -> None:
        view = r.view(sub.input[0])
        rank = len(view.axes)
        mean, var = _statistic(r.const(sub.input[1]), rank), _statistic(variance, rank)
        if mean is None or var is None or mean[1] != var[1] or not mean[1] or 0 in mean[1]:
            raise Refused("statistics of other shapes than the input's kept axes")
        spec_of = [view.axes[i] for i in mean[1]]
        if None in spec_of:
            raise Refused("statistics on an axis the spec tensor does not have")
        kept = sorted(int(a) for a in spec_of if a is not None)
        order = sorted(range(len(spec_of)), key=lambda j: spec_of[j] or 0)  # as Keras sorts
        shape = tuple(mean[0].shape[i] for i in mean[1])
        axis: Any = kept if len(kept) > 1 else (-1 if kept[0] == rank - 1 else kept[0])
        layer = {"type": "Normalization", "axis": axis}
        weights: dict[str, Any] = {
            name: (lambda v=value: np.transpose(v.reshape(shape), order).copy())
            for name, value in (("mean", mean[0]), ("variance", var[0]))
        }
        r.add(node, layer, [view], {div.output[0]: view.axes}, weights)
        r.claim(div)

    return recognise
