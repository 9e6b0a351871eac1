"""Depthwise and separable convolutions: DepthwiseConv1D/2D and SeparableConv1D/2D.

A Keras depthwise convolution is a grouped PyTorch convolution with one group per input
channel: the Keras kernel (*k, in, multiplier) is PyTorch's weight (in·multiplier, 1, *k), and
output channel ``c * multiplier + m`` comes from input channel ``c`` in both. A separable
convolution is that depthwise convolution (no bias) followed by a 1×1 pointwise convolution
with the bias; PyTorch has no such layer, so it is a module with the two native convolutions as
children ``depthwise`` and ``pointwise``. Padding is TensorFlow's valid/same (Keras refuses
causal padding for these layers, and so does the schema). The modules are the standalone
ones (``backends/torch/standalone/spatial.py``) that ``export`` copies into ``model.py``.
"""

from __future__ import annotations

from torch import nn

from backends.torch.model import BUILDERS
from backends.torch.standalone.emitters import WINDOW, arguments, channels
from backends.torch.standalone.spatial import (
    DepthwiseConv1D,
    DepthwiseConv2D,
    KerasDepthwiseConv,
    SeparableConv,
)
from translator.ir import Node
from translator.ops.depthwise import DEPTHWISE, SEPARABLE

DEPTHWISE_CLASSES: dict[str, type[KerasDepthwiseConv]] = {
    "DepthwiseConv1D": DepthwiseConv1D,
    "DepthwiseConv2D": DepthwiseConv2D,
}
MORE = ("depth_multiplier", "activation", "use_bias")


@BUILDERS.register(*DEPTHWISE)
def build_depthwise(node: Node) -> nn.Module:
    """DepthwiseConv1D/2D(kernel_size, strides=1, padding, depth_multiplier=1, data_format,
    dilation_rate=1, activation=None, use_bias=True) → ``DepthwiseConv1D/2D``."""
    return DEPTHWISE_CLASSES[node.type](channels(node), **arguments(node, *WINDOW, *MORE))


@BUILDERS.register(*SEPARABLE)
def build_separable(node: Node) -> nn.Module:
    """SeparableConv1D/2D(filters, kernel_size, strides=1, padding, depth_multiplier=1,
    data_format, dilation_rate=1, activation=None, use_bias=True) → ``SeparableConv``."""
    more = arguments(node, *WINDOW, *MORE)
    return SeparableConv(channels(node), node.args["filters"], **more)
