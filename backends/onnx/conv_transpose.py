"""Transposed convolutions: Conv1DTranspose, Conv2DTranspose and Conv3DTranspose on ONNX's
ConvTranspose.

TensorFlow computes a transposed convolution as the gradient of the forward convolution whose
output is this layer's input: the full result, ``(n - 1)·s + span`` long per axis, is cropped
to Keras's output size starting at the forward convolution's leading padding, and zero-extended
(bias only) past its end when Keras's size is longer. ONNX's ``pads`` crop and its
``output_padding`` extends in exactly that way. The crop depends on the kernel, stride,
dilation and padding only (never on the input size), so free spatial sizes work.
"""

from __future__ import annotations

from typing import Any

import onnx

from backends.onnx import activation
from backends.onnx.conv import to_channels_first, to_spec_layout
from backends.onnx.importing import (
    RECOGNISERS,
    Reading,
    Refused,
    attributes,
    channels_first_axes,
)
from backends.onnx.model import BUILDERS, Layer
from translator.ops.conv_transpose import TRANSPOSES


def axis_crop(
    kernel: int, stride: int, dilation: int, padding: str, extra: int | None
) -> tuple[int, int, int]:
    """(crop at the start, crop at the end, zeros added at the end) of one spatial axis.

    ``extra`` is the spec's output_padding for the axis (None: Keras's default size)."""
    span = dilation * (kernel - 1) + 1
    if extra is None:
        # Keras's size is n·s + max(span - s, 0) (valid) or n·s (same); the full one n·s + span - s.
        surplus = span - stride if padding == "same" else min(span - stride, 0)
    else:
        surplus = 2 * (span // 2 if padding == "same" else 0) - extra
    # TF's forward "same" padding puts the odd element at the end.
    start = max(surplus, 0) // 2 if padding == "same" else 0
    end = surplus - start
    return start, max(end, 0), max(-end, 0)


def _attributes(args: dict[str, Any]) -> dict[str, Any]:
    extras = args["output_padding"] or (None,) * len(args["kernel_size"])
    crops = [
        axis_crop(k, s, d, args["padding"], p)
        for k, s, d, p in zip(
            args["kernel_size"], args["strides"], args["dilation_rate"], extras, strict=True
        )
    ]
    return {
        "kernel_shape": list(args["kernel_size"]),
        "strides": list(args["strides"]),
        "dilations": list(args["dilation_rate"]),
        "pads": [c[0] for c in crops] + [c[1] for c in crops],
        "output_padding": [c[2] for c in crops],
    }


@BUILDERS.register(*TRANSPOSES)
def build_conv_transpose(layer: Layer, inputs: list[str]) -> list[str]:
    """Conv1D/2D/3DTranspose(filters, kernel_size, strides=1, padding="valid",
    output_padding=None, data_format, dilation_rate=1, activation=None, use_bias=True).

    W is (in channels, filters, *kernel), Keras's (*kernel, filters, in) kernel transposed,
    with no flip: both frameworks scatter each input tap through the kernel as stored."""
    a = layer.args
    rank = TRANSPOSES[layer.node.type]
    x = to_channels_first(layer, inputs[0], rank)
    weights = [layer.weight("W")] + ([layer.weight("B")] if a["use_bias"] else [])
    y = layer.op("ConvTranspose", [x, *weights], **_attributes(a))
    return [activation.apply(layer, to_spec_layout(layer, y, rank), a["activation"])]


# Importing: ConvTranspose on channels-first data → Conv1D/2D/3DTranspose where its pads
# and output_padding are the crops ``axis_crop`` gives Keras's "valid" or "same" window.


def _padding_of(a: dict[str, Any], kernel: list[int]) -> str:
    """``valid`` or ``same``: the Keras padding whose crops the node's attributes are."""
    rank = len(kernel)
    strides, dilation = a.get("strides", [1] * rank), a.get("dilations", [1] * rank)
    given = (list(a.get("pads", [0] * 2 * rank)), list(a.get("output_padding", [0] * rank)))
    for padding in ("valid", "same"):
        args = {"kernel_size": kernel, "strides": strides, "dilation_rate": dilation}
        wanted = _attributes({**args, "padding": padding, "output_padding": None})
        if (wanted["pads"], wanted["output_padding"]) == given:
            return padding
    raise Refused("pads and output_padding that crop neither Keras's valid nor same window")


@RECOGNISERS.register("ConvTranspose")
def read_conv_transpose(r: Reading, node: onnx.NodeProto) -> None:
    """ConvTranspose(x, W, B) on channels-first data → ConvNDTranspose(filters, ...)."""
    a = attributes(node)
    kernel = r.weight(node.input[1])
    rank = kernel.ndim - 2
    if a.get("group", 1) != 1 or a.get("auto_pad", "NOTSET") != "NOTSET" or "output_shape" in a:
        raise Refused("groups, auto_pad or output_shape, which the spec's layer has not")
    x = r.view(node.input[0])
    r.expects(x, channels_first_axes(r.data_format, rank + 2), "ONNX convolves channels first")
    sizes = list(kernel.shape[2:])
    bias = node.input[2] if len(node.input) > 2 and node.input[2] else None
    weights = {"W": lambda: kernel}
    if bias is not None:
        weights["B"] = lambda: r.weight(bias)
    name, out, axes = activation.folded(r, node.output[0], x.axes)
    layer = {"type": f"Conv{rank}DTranspose", "filters": kernel.shape[1], "kernel_size": sizes}
    layer |= {"strides": list(a.get("strides", [1] * rank)), "padding": _padding_of(a, sizes)}
    layer |= {"dilation_rate": list(a.get("dilations", [1] * rank)), "activation": name}
    layer["use_bias"] = bias is not None
    r.add(node, layer, [x], {out: axes}, weights)
