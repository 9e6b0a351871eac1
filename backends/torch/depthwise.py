"""Depthwise and separable convolutions: DepthwiseConv1D/2D and SeparableConv1D/2D.

A Keras depthwise convolution is a grouped PyTorch convolution with one group per input
channel: the Keras kernel (*k, in, multiplier) is PyTorch's weight (in·multiplier, 1, *k), and
output channel ``c * multiplier + m`` comes from input channel ``c`` in both. A separable
convolution is that depthwise convolution (no bias) followed by a 1×1 pointwise convolution
with the bias; PyTorch has no such layer, so it is a module with the two native convolutions as
children ``depthwise`` and ``pointwise``. Padding is TensorFlow's valid/same (Keras refuses
causal padding for these layers, and so does the schema).
"""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

from backends.torch.activation import make_activation
from backends.torch.conv import KerasConv, pad_like_keras, to_channels_first, to_spec_layout
from backends.torch.model import BUILDERS
from translator.ir import Node
from translator.ops.conv import split_channels
from translator.ops.depthwise import DEPTHWISE, SEPARABLE

NATIVE_CONVS: dict[int, type[nn.Module]] = {1: nn.Conv1d, 2: nn.Conv2d}


def depthwise_arguments(node: Node, bias: bool) -> dict[str, Any]:
    """The grouped convolution (groups = input channels) that is Keras's depthwise step."""
    a = node.args
    _, channels = split_channels(node, len(a["kernel_size"]))
    return {
        "in_channels": channels,
        "out_channels": channels * a["depth_multiplier"],
        "kernel_size": a["kernel_size"],
        "stride": a["strides"],
        "padding": 0,
        "dilation": a["dilation_rate"],
        "groups": channels,
        "bias": bias,
    }


class KerasDepthwiseConv(KerasConv):
    """Family base of the depthwise convolutions: a ``KerasConv`` whose native convolution
    has one group per input channel and ``depth_multiplier`` outputs per group."""

    @staticmethod
    def conv_arguments(node: Node) -> dict[str, Any]:
        return depthwise_arguments(node, node.args["use_bias"])


class DepthwiseConv1D(KerasDepthwiseConv, nn.Conv1d):
    """Keras DepthwiseConv1D as an ``nn.Conv1d`` with ``groups = in`` (weight (in·m, 1, k))."""


class DepthwiseConv2D(KerasDepthwiseConv, nn.Conv2d):
    """Keras DepthwiseConv2D as an ``nn.Conv2d`` with ``groups = in`` (weight (in·m, 1, kh, kw))."""


class SeparableConv(nn.Module):
    """Keras SeparableConv1D/2D: ``activation(pointwise(depthwise(pad(x))) + bias)``.

    ``depthwise`` is the grouped convolution without bias, ``pointwise`` the 1×1 convolution
    from in·multiplier to ``filters`` channels holding the layer's bias."""

    def __init__(self, node: Node) -> None:
        super().__init__()
        a = node.args
        rank = len(a["kernel_size"])
        native = NATIVE_CONVS[rank]
        self.depthwise = native(**depthwise_arguments(node, bias=False))
        self.pointwise = native(
            self.depthwise.out_channels, a["filters"], kernel_size=1, bias=a["use_bias"]
        )
        self.data_format = a["data_format"]
        self.spec_padding = a["padding"]
        self.activation = make_activation(a["activation"])

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = to_channels_first(x, self.data_format)
        y = self.pointwise(self.depthwise(pad_like_keras(x, self.spec_padding, self.depthwise)))
        return self.activation(to_spec_layout(y, self.data_format))

    def extra_repr(self) -> str:
        return f"spec_padding={self.spec_padding}, {self.data_format}"


DEPTHWISE_CLASSES: dict[str, type[KerasDepthwiseConv]] = {
    "DepthwiseConv1D": DepthwiseConv1D,
    "DepthwiseConv2D": DepthwiseConv2D,
}


@BUILDERS.register(*DEPTHWISE)
def build_depthwise(node: Node) -> nn.Module:
    """DepthwiseConv1D/2D(kernel_size, strides=1, padding, depth_multiplier=1, data_format,
    dilation_rate=1, activation=None, use_bias=True) → ``DepthwiseConv1D/2D``."""
    return DEPTHWISE_CLASSES[node.type](node)


@BUILDERS.register(*SEPARABLE)
def build_separable(node: Node) -> nn.Module:
    """SeparableConv1D/2D(filters, kernel_size, strides=1, padding, depth_multiplier=1,
    data_format, dilation_rate=1, activation=None, use_bias=True) → ``SeparableConv``."""
    return SeparableConv(node)
