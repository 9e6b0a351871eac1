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

from backends.torch.conv import native_conv, window_conv, window_pads
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
