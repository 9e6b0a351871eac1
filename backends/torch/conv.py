"""Convolutions: Conv1D, Conv2D and Conv3D, plus the layout and padding helpers that pooling,
depthwise and separable convolutions share.

PyTorch convolves channels-first tensors and pads symmetrically, so each layer (a subclass of
``nn.Conv1d``/``nn.Conv2d``/``nn.Conv3d``, keeping the names ``weight`` and ``bias``) moves the
channel axis
in and out around itself when the spec is channels-last, and pads explicitly the way
TensorFlow does: for ``same`` the extra row/column goes at the end; ``causal`` pads
``dilation * (kernel - 1)`` at the start.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from backends.torch.activation import make_activation
from backends.torch.model import BUILDERS
from translator.ir import Node
from translator.ops.conv import split_channels

Pads = list[int]  # torch.nn.functional.pad order: last axis first, (before, after) per axis


def to_channels_first(x: torch.Tensor, data_format: str) -> torch.Tensor:
    """The spec's layout → PyTorch's (batch, channels, *spatial)."""
    return x.movedim(-1, 1) if data_format == "channels_last" else x


def to_spec_layout(y: torch.Tensor, data_format: str) -> torch.Tensor:
    """PyTorch's (batch, channels, *spatial) → the spec's layout."""
    return y.movedim(1, -1) if data_format == "channels_last" else y


def _per_axis(pairs: list[tuple[int, int]]) -> Pads:
    return [p for pair in reversed(pairs) for p in pair]


def valid_pads(
    sizes: Sequence[int], kernel: Sequence[int], strides: Sequence[int], dilation: Sequence[int]
) -> Pads:
    """No padding."""
    return [0] * (2 * len(sizes))


def same_pads(
    sizes: Sequence[int], kernel: Sequence[int], strides: Sequence[int], dilation: Sequence[int]
) -> Pads:
    """TensorFlow's SAME: output = ceil(size / stride), the odd padding element at the end."""
    pairs = []
    for n, k, s, d in zip(sizes, kernel, strides, dilation, strict=True):
        total = max((-(-n // s) - 1) * s + (k - 1) * d + 1 - n, 0)
        pairs.append((total // 2, total - total // 2))
    return _per_axis(pairs)


def causal_pads(
    sizes: Sequence[int], kernel: Sequence[int], strides: Sequence[int], dilation: Sequence[int]
) -> Pads:
    """Keras's causal Conv1D: ``dilation * (kernel - 1)`` zeros before the sequence."""
    return _per_axis([(d * (k - 1), 0) for k, d in zip(kernel, dilation, strict=True)])


PADDINGS: dict[str, Callable[..., Pads]] = {
    "valid": valid_pads,
    "same": same_pads,
    "causal": causal_pads,
}


def pad_like_keras(x: torch.Tensor, padding: str, module: nn.Module) -> torch.Tensor:
    """Pad a channels-first input the way TensorFlow pads for ``padding`` (valid/same/causal),
    with the window of ``module`` (a native convolution)."""
    pads = PADDINGS[padding](x.shape[2:], module.kernel_size, module.stride, module.dilation)
    return F.pad(x, pads) if any(pads) else x


class KerasConv(nn.Module):
    """Family base of ``Conv1D``/``Conv2D``/``Conv3D`` and the depthwise convolutions:
    explicit TensorFlow-style padding, the spec's layout outside, the activation applied last
    (so a softmax works over the spec's last axis)."""

    kernel_size: tuple[int, ...]
    stride: tuple[int, ...]
    dilation: tuple[int, ...]

    def __init__(self, node: Node) -> None:
        # super() is the native nn.ConvNd next in the MRO of each variant below.
        super().__init__(**self.conv_arguments(node))
        a = node.args
        self.data_format = a["data_format"]
        self.spec_padding = a["padding"]
        self.activation = make_activation(a["activation"])

    @staticmethod
    def conv_arguments(node: Node) -> dict[str, Any]:
        """The native convolution's constructor arguments (padding is done apart)."""
        a = node.args
        _, channels = split_channels(node, len(a["kernel_size"]))
        return {
            "in_channels": channels,
            "out_channels": a["filters"],
            "kernel_size": a["kernel_size"],
            "stride": a["strides"],
            "padding": 0,
            "dilation": a["dilation_rate"],
            "groups": a["groups"],
            "bias": a["use_bias"],
        }

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = pad_like_keras(to_channels_first(x, self.data_format), self.spec_padding, self)
        y = super().forward(x)
        return self.activation(to_spec_layout(y, self.data_format))

    def extra_repr(self) -> str:
        return f"{super().extra_repr()}, spec_padding={self.spec_padding}, {self.data_format}"


class Conv1D(KerasConv, nn.Conv1d):
    """Keras Conv1D as an ``nn.Conv1d`` (weight (filters, in/groups, k))."""


class Conv2D(KerasConv, nn.Conv2d):
    """Keras Conv2D as an ``nn.Conv2d`` (weight (filters, in/groups, kh, kw))."""


class Conv3D(KerasConv, nn.Conv3d):
    """Keras Conv3D as an ``nn.Conv3d`` (weight (filters, in/groups, kd, kh, kw))."""


@BUILDERS.register("Conv1D")
def build_conv1d(node: Node) -> nn.Module:
    """Conv1D(filters, kernel_size, strides=1, padding=valid|same|causal, data_format,
    dilation_rate=1, groups=1, activation=None, use_bias=True) → ``Conv1D``."""
    return Conv1D(node)


@BUILDERS.register("Conv2D")
def build_conv2d(node: Node) -> nn.Module:
    """Conv2D(filters, kernel_size, strides=1, padding=valid|same, data_format,
    dilation_rate=1, groups=1, activation=None, use_bias=True) → ``Conv2D``."""
    return Conv2D(node)


@BUILDERS.register("Conv3D")
def build_conv3d(node: Node) -> nn.Module:
    """Conv3D(filters, kernel_size, strides=1, padding=valid|same, data_format,
    dilation_rate=1, groups=1, activation=None, use_bias=True) → ``Conv3D``."""
    return Conv3D(node)
