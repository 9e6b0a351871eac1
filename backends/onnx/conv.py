"""Convolutions: Conv1D and Conv2D, and the layout and padding helpers pooling shares.

ONNX convolves channels-first tensors only, so a channels-last layer transposes its input to
(batch, channels, *spatial) and its output back: the tensor between layers keeps the spec's
layout, and Flatten then sees Keras's element order.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from backends.onnx import activation
from backends.onnx.model import BUILDERS, Layer


def spatial_axes(layer: Layer, rank: int) -> list[int]:
    """The full-tensor (batch = 0) axes of the spatial dimensions in the layer's layout."""
    first = 2 if layer.args["data_format"] == "channels_first" else 1
    return list(range(first, first + rank))


def to_channels_first(layer: Layer, x: str, rank: int) -> str:
    if layer.args["data_format"] == "channels_first":
        return x
    return layer.op("Transpose", [x], perm=[0, rank + 1, *range(1, rank + 1)])


def to_spec_layout(layer: Layer, y: str, rank: int) -> str:
    if layer.args["data_format"] == "channels_first":
        return y
    return layer.op("Transpose", [y], perm=[0, *range(2, rank + 2), 1])


Pads = Callable[[Sequence[int], Sequence[int]], dict[str, Any]]

# Padding name → Conv/Pool attributes, given kernel sizes and dilations.
PADDING: dict[str, Pads] = {
    "valid": lambda kernel, dilation: {"pads": [0] * (2 * len(kernel))},
    # TF puts the odd padding element at the end, as SAME_UPPER does (dilation included).
    "same": lambda kernel, dilation: {"auto_pad": "SAME_UPPER"},
    # Causal: dilation * (kernel - 1) zeros before the first step, none after.
    "causal": lambda kernel, dilation: {"pads": [dilation[0] * (kernel[0] - 1), 0]},
}


@BUILDERS.register("Conv1D", "Conv2D")
def build_conv(layer: Layer, inputs: list[str]) -> list[str]:
    """Conv1D/Conv2D(filters, kernel_size, strides=1, padding="valid", data_format,
    dilation_rate=1, groups=1, activation=None, use_bias=True)."""
    a = layer.args
    rank = len(a["kernel_size"])
    x = to_channels_first(layer, inputs[0], rank)
    weights = [layer.weight("W")] + ([layer.weight("B")] if a["use_bias"] else [])
    y = layer.op(
        "Conv",
        [x, *weights],
        kernel_shape=list(a["kernel_size"]),
        strides=list(a["strides"]),
        dilations=list(a["dilation_rate"]),
        group=a["groups"],
        **PADDING[a["padding"]](a["kernel_size"], a["dilation_rate"]),
    )
    # The activation runs in the spec's layout: softmax normalizes Keras's last axis.
    return [activation.apply(layer, to_spec_layout(layer, y, rank), a["activation"])]
