"""Preprocessing layers: Rescaling and Normalization, as standard operators."""

from __future__ import annotations

import numpy as np

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
