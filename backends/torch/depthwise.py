"""Depthwise and separable convolutions: DepthwiseConv1D/2D and SeparableConv1D/2D.

A Keras depthwise convolution is a grouped PyTorch convolution with one group per input
channel: the Keras kernel (*k, in, multiplier) is PyTorch's weight (in·multiplier, 1, *k), and
output channel ``c * multiplier + m`` comes from input channel ``c`` in both. A separable
convolution is that depthwise convolution (no bias) followed by a 1×1 pointwise convolution
with the bias; PyTorch has no such layer, so it is an ``nn.Sequential`` of the two native
convolutions (children ``0``, the depthwise one, and ``1``, the pointwise one), as
torchvision's MobileNet writes its blocks. Padding is TensorFlow's valid/same (Keras refuses
causal padding for these layers, and so does the schema). The modules are the standalone
ones (``backends/torch/standalone/spatial.py``) that ``export`` copies into ``model.py``.
"""

from __future__ import annotations

from typing import Any

from backends.torch import activation
from backends.torch.conv import (
    CONV_OPS,
    folded_padding,
    native_conv,
    padding_of,
    window_conv,
    window_of,
    window_pads,
    zero_padded,
)
from backends.torch.importing import MODULES, SHAPES, ModuleCall, Reading, arg, op_name
from backends.torch.model import describes
from backends.torch.standalone.assemble import Description, call, steps
from backends.torch.standalone.describe import WINDOW, activation_steps, arguments, channels
from translator.ir import Node
from translator.ops.depthwise import DEPTHWISE, SEPARABLE

MORE = ("depth_multiplier", "activation", "use_bias")


@describes(*DEPTHWISE)
def describe_depthwise(node: Node) -> Description:
    """DepthwiseConv1D/2D(kernel_size, strides=1, padding, depth_multiplier=1, data_format,
    dilation_rate=1, activation=None, use_bias=True) → on channels-first data, ``nn.Conv1d/2d``
    with one group per input channel (output channel ``c * m + k`` from input channel ``c``,
    as in Keras); otherwise ``DepthwiseConv1D/2D``."""
    if window_pads(node) is None:
        return call(node.type, channels(node), **arguments(node, *WINDOW, *MORE))
    ins = channels(node) or 0
    return native_conv(node, ins, ins * node.physical_args["depth_multiplier"], ins)


@describes(*SEPARABLE)
def describe_separable(node: Node) -> Description:
    """SeparableConv1D/2D(filters, kernel_size, strides=1, padding, depth_multiplier=1,
    data_format, dilation_rate=1, activation=None, use_bias=True) → on channels-first data,
    ``nn.Sequential`` of the depthwise ``nn.Conv1d/2d`` (one group per input channel, no
    bias) and the pointwise 1×1 one holding the bias, as torchvision's MobileNet writes a
    block, between the padding and activation steps of a native convolution; otherwise
    ``SeparableConv`` (the same two convolutions, moving the channels around them)."""
    a = node.physical_args
    if window_pads(node) is None:
        more = arguments(node, *WINDOW, *MORE)
        return call("SeparableConv", channels(node), a["filters"], **more)
    ins = channels(node) or 0
    middle = ins * a["depth_multiplier"]
    depthwise, before = window_conv(node, ins, middle, ins, False)
    rank = len(a["kernel_size"])
    pointwise = call(f"nn.Conv{rank}d", middle, a["filters"], 1, **bias_argument(a["use_bias"]))
    main = call("nn.Sequential", depthwise, pointwise)
    return steps(main, before, activation_steps(a["activation"]))


def bias_argument(use_bias: bool) -> dict[str, bool]:
    """``bias=False`` where the layer has none; nothing (torch's default) where it has."""
    return {} if use_bias else {"bias": False}


# Importing: a module whose operations are a depthwise convolution (groups = its input's
# channels, no bias) and a 1×1 convolution of its result (the nn.Sequential that model.py and
# torchvision's MobileNet write) → SeparableConv1D/2D.
SEPARABLE_SHAPE = "DepthwisePointwise"


def separable_shaped(nodes: list[Any]) -> int:
    """2 when ``nodes`` are a depthwise then a pointwise convolution of its output; else 0."""
    if len(nodes) != 2 or any(op_name(n) not in CONV_OPS for n in nodes):
        return 0
    depthwise, pointwise = nodes
    _, strides, dilation = window_of(pointwise)
    unit = set(Reading.shape(pointwise.args[1])[2:]) | set(strides) | set(dilation) == {1}
    plain = (
        not any(arg(pointwise, 4, "padding", [0]) or [0]) and arg(pointwise, 6, "groups", 1) == 1
    )
    grouped = arg(depthwise, 6, "groups", 1) == Reading.shape(depthwise.args[0])[1]
    bare = arg(depthwise, 2, "bias") is None and pointwise.args[0] is depthwise
    return 2 if unit and plain and grouped and bare else 0


SHAPES.register(SEPARABLE_SHAPE)(separable_shaped)


@MODULES.register(SEPARABLE_SHAPE)
def read_separable(r: Reading, call: ModuleCall) -> None:
    """Depthwise nn.ConvNd then pointwise nn.ConvNd → SeparableConvND(filters, kernel_size,
    strides, padding, depth_multiplier, dilation_rate, activation, use_bias)."""
    depthwise, pointwise = call.nodes
    x, channels_in = depthwise.args[0], Reading.shape(depthwise.args[0])[1]
    kernel, strides, dilation = window_of(depthwise)
    padding, pads = padding_of(x, arg(depthwise, 4, "padding", [0]), kernel, strides, dilation)
    folded = folded_padding(x)
    if folded is not None:
        padding, x = folded, x.args[0]
    elif pads is not None:
        x = zero_padded(r, call, x, pads)
    name, output = activation.folded(r, pointwise)
    layer: dict[str, Any] = {"type": f"SeparableConv{len(kernel)}D", "kernel_size": kernel}
    layer["strides"] = strides
    layer |= {"filters": Reading.shape(pointwise.args[1])[0], "padding": padding}
    layer |= {"depth_multiplier": Reading.shape(depthwise.args[1])[0] // channels_in}
    layer |= {"dilation_rate": dilation, "activation": name}
    layer["use_bias"] = arg(pointwise, 2, "bias") is not None
    r.add(call, layer, [x], output)
