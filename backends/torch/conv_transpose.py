"""Transposed convolutions: Conv1DTranspose, Conv2DTranspose, Conv3DTranspose.

Keras (TensorFlow backend) computes a transposed convolution as the exact adjoint of a forward
convolution whose input has the transposed output's size: the full result, of length
``(n - 1) * stride + dilated_kernel``, is taken from the forward convolution's leading padding
on (``padding: same`` → ``total // 2``, TensorFlow's split; ``valid`` → 0), for as many
elements as Keras's output size says, zeros beyond it (before the bias). PyTorch's own
``padding``/``output_padding`` can only trim both ends equally, which cannot express every
Keras case, so each layer (a subclass of ``nn.ConvTransposeNd``, keeping ``weight`` (in,
filters, *k) and ``bias``) computes the full result and crops or pads it explicitly.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import cast

import torch
import torch.nn.functional as F
from torch import nn

from backends.torch.activation import make_activation
from backends.torch.conv import to_channels_first, to_spec_layout
from backends.torch.model import BUILDERS
from translator.ir import Node
from translator.ops.conv import split_channels
from translator.ops.conv_transpose import TRANSPOSES, transposed_size

TRANSPOSE_FUNCTIONS = {1: F.conv_transpose1d, 2: F.conv_transpose2d, 3: F.conv_transpose3d}


def keras_window(
    size: int, kernel: int, stride: int, dilation: int, padding: str, output_padding: int | None
) -> tuple[int, int]:
    """(start, end) of Keras's output within the full transposed result of one axis; ``end``
    may pass the full length (those elements are zeros)."""
    # A real tensor's size is known, so the output size is too.
    out = cast(int, transposed_size(size, kernel, stride, dilation, padding, output_padding))
    full = (size - 1) * stride + (kernel - 1) * dilation + 1
    start = max(full - out, 0) // 2 if padding == "same" else 0
    return start, start + out


class KerasConvTranspose(nn.Module):
    """Family base of the transposed convolutions: the full transposed convolution, cropped or
    zero-extended to Keras's window, then the bias and the activation, in the spec's layout."""

    weight: nn.Parameter
    bias: nn.Parameter | None
    stride: tuple[int, ...]
    dilation: tuple[int, ...]

    def __init__(self, node: Node) -> None:
        a = node.args
        rank = TRANSPOSES[node.type]
        _, channels = split_channels(node, rank)
        # super() is the native nn.ConvTransposeNd next in the MRO of each variant below.
        super().__init__(
            channels,
            a["filters"],
            a["kernel_size"],
            stride=a["strides"],
            dilation=a["dilation_rate"],
            bias=a["use_bias"],
        )
        self.rank = rank
        self.spec_padding = a["padding"]
        self.output_paddings: Sequence[int | None] = a["output_padding"] or (None,) * rank
        self.data_format = a["data_format"]
        self.activation = make_activation(a["activation"])

    def crops(self, sizes: Sequence[int]) -> list[int]:
        """``F.pad`` amounts (last axis first) that cut the full result to Keras's window;
        negative amounts crop, positive ones append zeros."""
        pads: list[int] = []
        for n, k, s, d, p in zip(
            sizes, self.kernel_size, self.stride, self.dilation, self.output_paddings, strict=True
        ):
            start, end = keras_window(n, k, s, d, self.spec_padding, p)
            full = (n - 1) * s + (k - 1) * d + 1
            pads = [-start, end - full, *pads]
        return pads

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = to_channels_first(x, self.data_format)
        transpose = TRANSPOSE_FUNCTIONS[self.rank]
        y = transpose(x, self.weight, None, self.stride, 0, 0, 1, self.dilation)
        pads = self.crops(x.shape[2:])
        if any(pads):
            y = F.pad(y, pads)
        if self.bias is not None:
            y = y + self.bias.reshape(-1, *(1,) * self.rank)
        return self.activation(to_spec_layout(y, self.data_format))

    def extra_repr(self) -> str:
        return (
            f"{super().extra_repr()}, spec_padding={self.spec_padding}, "
            f"output_padding={tuple(self.output_paddings)}, {self.data_format}"
        )


class Conv1DTranspose(KerasConvTranspose, nn.ConvTranspose1d):
    """Keras Conv1DTranspose as an ``nn.ConvTranspose1d`` (weight (in, filters, k))."""


class Conv2DTranspose(KerasConvTranspose, nn.ConvTranspose2d):
    """Keras Conv2DTranspose as an ``nn.ConvTranspose2d`` (weight (in, filters, kh, kw))."""


class Conv3DTranspose(KerasConvTranspose, nn.ConvTranspose3d):
    """Keras Conv3DTranspose as an ``nn.ConvTranspose3d`` (weight (in, filters, kd, kh, kw))."""


TRANSPOSE_CLASSES: dict[str, type[KerasConvTranspose]] = {
    "Conv1DTranspose": Conv1DTranspose,
    "Conv2DTranspose": Conv2DTranspose,
    "Conv3DTranspose": Conv3DTranspose,
}


@BUILDERS.register(*TRANSPOSES)
def build_conv_transpose(node: Node) -> nn.Module:
    """Conv1D/2D/3DTranspose(filters, kernel_size, strides=1, padding=valid|same,
    output_padding=None, data_format, dilation_rate=1, activation=None, use_bias=True)."""
    return TRANSPOSE_CLASSES[node.type](node)
