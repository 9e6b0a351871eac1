"""Convolutions: Conv1D, Conv2D and Conv3D, and the layout and padding helpers the other
convolution families and pooling share.

ONNX convolves channels-first tensors only, so a channels-last layer transposes its input to
(batch, channels, *spatial) and its output back: the tensor between layers keeps the spec's
layout, and Flatten then sees Keras's element order.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import onnx

from backends.onnx import activation
from backends.onnx.importing import (
    RECOGNISERS,
    Axes,
    Reading,
    Refused,
    View,
    attributes,
    channels_first_axes,
)
from backends.onnx.model import BUILDERS, Layer
from translator.ir.layout import same_pairs


def spatial_axes(layer: Layer, rank: int) -> list[int]:
    """The full-tensor (batch = 0) axes of the spatial dimensions in the layer's layout."""
    first = 2 if layer.args["data_format"] == "channels_first" else 1
    return list(range(first, first + rank))


def to_channels_first(layer: Layer, x: str, rank: int) -> str:
    """``x`` channels first (a Transpose when the spec is channels_last)."""
    if layer.args["data_format"] == "channels_first":
        return x
    return layer.op("Transpose", [x], perm=[0, rank + 1, *range(1, rank + 1)])


def to_spec_layout(layer: Layer, y: str, rank: int) -> str:
    """``y`` back in the spec's layout (a Transpose when it is channels_last)."""
    if layer.args["data_format"] == "channels_first":
        return y
    return layer.op("Transpose", [y], perm=[0, *range(2, rank + 2), 1])


Pads = Callable[[Sequence[int], Sequence[int], Sequence[int]], dict[str, Any]]


def _same(kernel: Sequence[int], strides: Sequence[int], dilation: Sequence[int]) -> dict[str, Any]:
    """TF's "same": the odd padding element goes at the end, as ONNX's SAME_UPPER does.

    With stride 1 the padding is ``dilation * (kernel - 1)`` whatever the input size, so it is
    written out: onnxruntime refuses SAME_UPPER together with dilation (and Keras refuses
    strides > 1 together with dilation > 1, so the two never meet)."""
    if any(s > 1 for s in strides):
        return {"auto_pad": "SAME_UPPER"}
    totals = [d * (k - 1) for k, d in zip(kernel, dilation, strict=True)]
    return {"pads": [t // 2 for t in totals] + [t - t // 2 for t in totals]}


# Padding name → Conv/Pool attributes, given kernel sizes, strides and dilations.
PADDING: dict[str, Pads] = {
    "valid": lambda kernel, strides, dilation: {"pads": [0] * (2 * len(kernel))},
    "same": _same,
    # Causal: dilation * (kernel - 1) zeros before the first step, none after.
    "causal": lambda kernel, strides, dilation: {"pads": [dilation[0] * (kernel[0] - 1), 0]},
}


def convolve(layer: Layer, x: str, weights: list[str], group: int = 1, **over: Any) -> str:
    """One ONNX Conv of the channels-first ``x`` with the layer's window arguments (kernel_size,
    strides, dilation_rate, padding), any of which ``over`` replaces."""
    a = {**layer.args, **over}
    return layer.op(
        "Conv",
        [x, *weights],
        kernel_shape=list(a["kernel_size"]),
        strides=list(a["strides"]),
        dilations=list(a["dilation_rate"]),
        group=group,
        **PADDING[a["padding"]](a["kernel_size"], a["strides"], a["dilation_rate"]),
    )


@BUILDERS.register("Conv1D", "Conv2D", "Conv3D")
def build_conv(layer: Layer, inputs: list[str]) -> list[str]:
    """Conv1D/2D/3D(filters, kernel_size, strides=1, padding="valid", data_format,
    dilation_rate=1, groups=1, activation=None, use_bias=True)."""
    a = layer.args
    rank = len(a["kernel_size"])
    x = to_channels_first(layer, inputs[0], rank)
    weights = [layer.weight("W")] + ([layer.weight("B")] if a["use_bias"] else [])
    y = convolve(layer, x, weights, a["groups"])
    # The activation runs in the spec's layout: softmax normalizes Keras's last axis.
    return [activation.apply(layer, to_spec_layout(layer, y, rank), a["activation"])]


# Importing: Conv → Conv1D/2D/3D. ONNX pads that equal TensorFlow's "same" (for the input's
# size) become ``padding: same``; other pads an explicit ZeroPadding layer before a valid
# convolution, which computes the same function.


def window(
    r: Reading, node: onnx.NodeProto, kernel: Sequence[int], kept: Sequence[int] | None = None
) -> dict[str, Any]:
    """The window attributes of a Conv or pool as spec arguments, with ``pads`` (explicit
    pads, or None for ``padding`` valid or same), over the ``kept`` spatial axes (all)."""
    a = attributes(node)
    rank = len(kernel)
    kept = list(range(rank)) if kept is None else list(kept)

    def pick(values: Sequence[Any]) -> list[Any]:
        return [values[i] for i in kept]

    strides = pick(a.get("strides", [1] * rank))
    dilation = pick(a.get("dilations", [1] * rank))
    given = list(a.get("pads", [0] * 2 * rank))
    given = pick(given[:rank]) + pick(given[rank:])
    shape = r.shape(node.input[0]) or (None,) * (rank + 2)
    pairs = same_pairs(pick(shape[2:]), pick(kernel), strides, dilation)
    same = None if pairs is None else [b for b, _ in pairs] + [e for _, e in pairs]
    auto = a.get("auto_pad", "NOTSET")
    pads: list[int] | None = None
    if auto == "SAME_UPPER" or (auto == "NOTSET" and given == same and any(given)):
        padding = "same"
    elif auto == "VALID" or (auto == "NOTSET" and not any(given)):
        padding = "valid"
    elif auto == "NOTSET":
        padding, pads = "valid", given
    else:
        raise Refused(f"auto_pad {auto}; accepted: NOTSET, VALID, SAME_UPPER")
    return {"strides": strides, "dilation_rate": dilation, "padding": padding, "pads": pads}


def kept_axes(node: onnx.NodeProto, x: View, kernel: Sequence[int]) -> list[int]:
    """The spatial axes of a channels-first window that the spec sees: one over an inserted
    axis (``None`` in the view: size 1) with a window of 1 and no pads, which leaves it as it
    is whatever the stride, is left out, so that a 2-D Conv or pool between ``Unsqueeze`` and
    ``Squeeze`` (tf2onnx's Conv1D, MaxPooling1D) reads as the 1-D layer."""
    a, rank = attributes(node), len(kernel)
    pads = a.get("pads", [0] * 2 * rank)
    spatial = x.axes[2:] if len(x.axes) == rank + 2 else (0,) * rank
    idle = [kernel[i] == 1 and not pads[i] and not pads[i + rank] for i in range(rank)]
    return [i for i, axis in enumerate(spatial) if axis is not None or not idle[i]]


def seen(x: View, kept: Sequence[int]) -> View:
    """``x`` without the inserted spatial axes a window leaves out (``kept_axes``)."""
    axes = [*x.axes[:2], *(x.axes[2 + i] for i in kept)]
    return View(x.ref, tuple(axes))


def zero_padded(r: Reading, node: onnx.NodeProto, x: View, pads: list[int]) -> View:
    """A ZeroPadding layer giving ``x`` the explicit ONNX ``pads``."""
    rank = len(pads) // 2
    padding = [[b, e] for b, e in zip(pads[:rank], pads[rank:], strict=True)]
    tensor = f"{node.output[0]}/padded"
    layer = {"type": f"ZeroPadding{rank}D", "padding": padding}
    r.add(node, layer, [x], {tensor: x.axes}, suffix="_pad")
    return r.views[tensor]


def with_inserted_axes(r: Reading, tensor: str, expected: Axes) -> View:
    """The view of ``tensor``, or, where it shows axes of size 1 that the spec tensor lacks
    (a Reshape that added a channel axis, read as a view), a Reshape layer inserting them
    first, when the new tensor then shows the ``expected`` axes with the others' order
    kept (row-major order unchanged). The layer is named after the node that added them."""
    x, shape = r.view(tensor), r.shape(tensor)
    ranks = [a for a in expected if a is not None]
    if None not in x.axes or shape is None or len(ranks) != len(x.axes):
        return x
    placed = sorted(range(len(x.axes)), key=ranks.__getitem__)  # ONNX axes, the new order
    kept = [a for a in (x.axes[i] for i in placed) if a is not None]
    if kept != sorted(kept) or None in [shape[i] for i in placed[1:]]:
        return x
    target = [int(shape[i] or 1) for i in placed[1:]]
    adder = r.source.producers[tensor]
    while adder.op_type == "Transpose" and adder.input[0] in r.source.producers:
        adder = r.source.producers[adder.input[0]]
    out = f"{tensor}/reshaped"
    r.add(adder, {"type": "Reshape", "target_shape": target}, [x], {out: expected})
    return r.views[out]


def _pointwise(r: Reading, node: onnx.NodeProto, kernel: Any) -> onnx.NodeProto | None:
    """The 1×1 Conv that is the only reader of a depthwise Conv without bias (one group per
    input channel): a SeparableConv, as the export writes it; else None."""
    after, channels = r.reader(node.output[0]), (r.shape(node.input[0]) or (0, 0))[1]
    if after is None or after.op_type != "Conv" or (len(node.input) > 2 and node.input[2]):
        return None
    pointwise, a = r.const(after.input[1]), attributes(after)
    if pointwise is None:
        return None
    unit = {*a.get("strides", [1]), *a.get("dilations", [1]), *pointwise.shape[2:]} == {1}
    plain = not any(a.get("pads", [0])) and a.get("group", 1) == 1
    grouped = kernel.shape[1] == 1 and attributes(node).get("group", 1) == channels
    return after if unit and plain and grouped and a.get("auto_pad", "NOTSET") == "NOTSET" else None


def squeezed_axes(r: Reading, node: onnx.NodeProto, rank: int) -> set[int] | None:
    """The axes a Squeeze drops (an attribute before opset 13, an input after), or None."""
    given = attributes(node).get("axes")
    if given is None and len(node.input) > 1:
        value = r.const(node.input[1])
        given = None if value is None else value.tolist()
    return None if given is None else {int(a) % rank for a in given}


def trailing_bias(
    r: Reading, tensor: str, axes: Axes, filters: int
) -> tuple[str, str, Axes] | None:
    """(the bias, the tensor it makes, that tensor's axes) of an Add of ``filters`` constants
    along the channels after a Conv without bias, through a Squeeze of inserted axes
    (tf2onnx's BiasAdd after a Conv1D written 2-D); else None."""
    after, view, passed = r.reader(tensor), axes, []
    if after is not None and after.op_type == "Squeeze":
        drop = squeezed_axes(r, after, len(axes))
        if drop is None or any(axes[a] is not None for a in drop):
            return None
        view = tuple(a for i, a in enumerate(axes) if i not in drop)
        passed, after = [after], r.reader(after.output[0])
    if after is None or after.op_type != "Add":
        return None
    data = passed[-1].output[0] if passed else tensor
    bias = next((t for t in after.input if t != data), "")
    value = r.const(bias) if r.source.is_const(bias) else None
    if value is None or value.size != filters or value.ndim > len(view):
        return None
    shape = (1,) * (len(view) - value.ndim) + value.shape
    if shape[1] != filters:
        return None
    for node in [*passed, after]:
        r.claim(node)
    return bias, after.output[0], view


def _conv_input(r: Reading, node: onnx.NodeProto, kernel: Any) -> tuple[View, list[int]]:
    """The Conv's input view, channels first, and the spatial axes the spec sees."""
    rank = kernel.ndim - 2
    x = r.view(node.input[0])
    kept = kept_axes(node, x, kernel.shape[2:])
    if len(kept) < rank:
        expected = channels_first_axes(r.data_format, len(kept) + 2)
        r.expects(seen(x, kept), expected, "ONNX convolves channels first")
        return x, kept
    expected = channels_first_axes(r.data_format, rank + 2)
    x = with_inserted_axes(r, node.input[0], expected)
    r.expects(x, expected, "ONNX convolves channels first")
    return x, kept


@RECOGNISERS.register("Conv")
def read_conv(r: Reading, node: onnx.NodeProto) -> None:
    """Conv(x, W, B) on channels-first data → Conv1D/2D/3D(filters, kernel_size, ...); a
    depthwise Conv and the 1×1 Conv reading it (``_pointwise``) → SeparableConv1D/2D."""
    kernel = r.weight(node.input[1])
    x, kept = _conv_input(r, node, kernel)
    rank = len(kept)
    args = window(r, node, kernel.shape[2:], kept)
    pads = args.pop("pads")
    if pads is not None:
        x = zero_padded(r, node, x, pads)
    pointwise = _pointwise(r, node, kernel)
    last = node if pointwise is None else pointwise
    bias = last.input[2] if len(last.input) > 2 and last.input[2] else None
    made, axes = last.output[0], x.axes
    filters = r.weight(last.input[1]).shape[0]
    trailing = trailing_bias(r, made, axes, filters) if bias is None else None
    if trailing is not None:
        bias, made, axes = trailing
    weights = {"W": lambda: kernel}
    if pointwise is not None:
        r.claim(pointwise)
        weights = {"depthwise_W": lambda: kernel, "pointwise_W": lambda: r.weight(last.input[1])}
    if bias is not None:
        weights["B"] = lambda: r.weight(bias)
    name, out, axes = activation.folded(r, made, axes)
    group = attributes(node).get("group", 1)
    size = [int(kernel.shape[2 + i]) for i in kept]
    layer = {"type": f"Conv{rank}D", "filters": kernel.shape[0], "kernel_size": size}
    layer |= {**args, "groups": group, "activation": name}
    if pointwise is not None:
        layer |= {"type": f"SeparableConv{rank}D", "groups": 1}
        layer |= {
            "filters": r.weight(last.input[1]).shape[0],
            "depth_multiplier": kernel.shape[0] // group,
        }
    layer["use_bias"] = bias is not None
    r.add(node, layer, [x], {out: axes}, weights)
