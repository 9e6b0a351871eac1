"""Standalone PyTorch layers with Keras's semantics: convolutions (plain, depthwise and
separable) and pooling.

As in the PyTorch backend (``backends/torch/conv.py``, ``depthwise.py`` and ``pooling.py``):
the native operation between explicit TensorFlow-style padding and the spec's layout, which
every tensor keeps between layers. Export copies what a model needs into its ``model.py``; see
``backends/torch/standalone/__init__.py`` for the rules this file keeps.
"""

from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from backends.torch.standalone.layers import make_activation


def to_channels_first(x: torch.Tensor, data_format: str) -> torch.Tensor:
    """The spec's layout → PyTorch's (batch, channels, *spatial)."""
    if data_format != "channels_last":
        return x
    # Axes written out (not movedim(-1, 1)): TorchScript's ONNX export mis-writes a negative one.
    return x.permute(0, x.dim() - 1, *range(1, x.dim() - 1))


def to_spec_layout(y: torch.Tensor, data_format: str) -> torch.Tensor:
    """PyTorch's (batch, channels, *spatial) → the spec's layout."""
    return y.permute(0, *range(2, y.dim()), 1) if data_format == "channels_last" else y


def explicit_pads(padding: str, sizes: Any, kernel: Any, strides: Any, dilation: Any) -> list[int]:
    """``F.pad`` amounts (last axis first) for Keras's padding modes: ``same`` as TensorFlow
    pads (output = ceil(size / stride), the odd element at the end), ``causal`` as
    ``dilation * (kernel - 1)`` zeros at the start, ``valid`` none."""
    pairs = []
    for n, k, s, d in zip(sizes, kernel, strides, dilation, strict=True):
        if padding == "same":
            total = max((-(-n // s) - 1) * s + (k - 1) * d + 1 - n, 0)
            pairs.append((total // 2, total - total // 2))
        elif padding == "causal":
            pairs.append((d * (k - 1), 0))
        else:
            pairs.append((0, 0))
    return [p for pair in reversed(pairs) for p in pair]


class KerasConv(nn.Module):
    """Family base of ``Conv1D``/``Conv2D``/``Conv3D`` and the depthwise convolutions: the
    native convolution between explicit TensorFlow-style padding and the spec's layout; the
    activation comes last, in the spec's layout (so a softmax works over the spec's last
    axis)."""

    kernel_size: tuple[int, ...]
    stride: tuple[int, ...]
    dilation: tuple[int, ...]

    def __init__(
        self,
        in_channels: int,
        filters: int,
        kernel_size: tuple[int, ...],
        strides: tuple[int, ...],
        padding: str,
        data_format: str,
        dilation_rate: tuple[int, ...],
        groups: int = 1,
        activation: str | None = None,
        use_bias: bool = True,
    ) -> None:
        # super() is the native nn.ConvNd next in the MRO of each variant below.
        super().__init__(
            in_channels,
            filters,
            kernel_size,
            stride=strides,
            padding=0,
            dilation=dilation_rate,
            groups=groups,
            bias=use_bias,
        )
        self.data_format = data_format
        self.spec_padding = padding
        self.activation = make_activation(activation)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = to_channels_first(x, self.data_format)
        pads = explicit_pads(
            self.spec_padding, x.shape[2:], self.kernel_size, self.stride, self.dilation
        )
        if any(pads):
            x = F.pad(x, pads)
        y = super().forward(x)
        return self.activation(to_spec_layout(y, self.data_format))


class Conv1D(KerasConv, nn.Conv1d):
    """Keras Conv1D as an ``nn.Conv1d``: weight (filters, in / groups, k)."""


class Conv2D(KerasConv, nn.Conv2d):
    """Keras Conv2D as an ``nn.Conv2d``: weight (filters, in / groups, kh, kw)."""


class Conv3D(KerasConv, nn.Conv3d):
    """Keras Conv3D as an ``nn.Conv3d``: weight (filters, in / groups, kd, kh, kw)."""


class KerasDepthwiseConv(KerasConv):
    """Family base of the depthwise convolutions: one group per input channel and
    ``depth_multiplier`` outputs per group (output channel ``c * multiplier + m`` comes from
    input channel ``c``, as in Keras)."""

    def __init__(
        self,
        in_channels: int,
        kernel_size: tuple[int, ...],
        strides: tuple[int, ...],
        padding: str,
        data_format: str,
        dilation_rate: tuple[int, ...],
        depth_multiplier: int = 1,
        activation: str | None = None,
        use_bias: bool = True,
    ) -> None:
        out = in_channels * depth_multiplier
        layout = (padding, data_format, dilation_rate)
        options = (in_channels, activation, use_bias)  # groups: one per input channel
        super().__init__(in_channels, out, kernel_size, strides, *layout, *options)


class DepthwiseConv1D(KerasDepthwiseConv, nn.Conv1d):
    """Keras DepthwiseConv1D as an ``nn.Conv1d`` with ``groups = in``: weight (in * m, 1, k)."""


class DepthwiseConv2D(KerasDepthwiseConv, nn.Conv2d):
    """Keras DepthwiseConv2D as an ``nn.Conv2d`` with ``groups = in``: weight
    (in * m, 1, kh, kw)."""


NATIVE_CONVS: dict[int, Any] = {1: nn.Conv1d, 2: nn.Conv2d}


class SeparableConv(nn.Sequential):
    """Keras SeparableConv1D/2D on channels-last data or with "same" padding over sizes not
    known: ``activation(pointwise(depthwise(pad(x))) + bias)``, the depthwise step a grouped
    convolution without bias (child ``0``), the pointwise step a 1x1 convolution holding the
    bias (child ``1``), as the native ``nn.Sequential`` of the two holds them."""

    def __init__(
        self,
        in_channels: int,
        filters: int,
        kernel_size: tuple[int, ...],
        strides: tuple[int, ...],
        padding: str,
        data_format: str,
        dilation_rate: tuple[int, ...],
        depth_multiplier: int = 1,
        activation: str | None = None,
        use_bias: bool = True,
    ) -> None:
        native = NATIVE_CONVS[len(kernel_size)]
        middle = in_channels * depth_multiplier
        depthwise = native(
            in_channels,
            middle,
            kernel_size,
            stride=strides,
            dilation=dilation_rate,
            groups=in_channels,
            bias=False,
        )
        super().__init__(depthwise, native(middle, filters, kernel_size=1, bias=use_bias))
        self.spec_padding = padding
        self.data_format = data_format
        self.activation = make_activation(activation)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = to_channels_first(x, self.data_format)
        d, p = self[0], self[1]
        pads = explicit_pads(self.spec_padding, x.shape[2:], d.kernel_size, d.stride, d.dilation)
        y = p(d(F.pad(x, pads) if any(pads) else x))
        return self.activation(to_spec_layout(y, self.data_format))


POOL_FUNCTIONS: dict[tuple[str, int], Any] = {
    ("max", 1): F.max_pool1d,
    ("max", 2): F.max_pool2d,
    ("max", 3): F.max_pool3d,
    ("average", 1): F.avg_pool1d,
    ("average", 2): F.avg_pool2d,
    ("average", 3): F.avg_pool3d,
}


class Pooling(nn.Module):
    """Family base of windowed pooling in the spec's layout; variants set ``kind`` and how
    they pool a padded input."""

    kind = ""

    def __init__(
        self,
        pool_size: tuple[int, ...],
        strides: tuple[int, ...],
        padding: str,
        data_format: str,
        ceil_mode: bool = False,
    ) -> None:
        super().__init__()
        self.pool = POOL_FUNCTIONS[(self.kind, len(pool_size))]
        self.pool_size = pool_size
        self.strides = strides
        self.padding = padding
        self.data_format = data_format
        # PyTorch's own ceil_mode (padding valid only): the average of a clipped last window
        # is over its elements inside the input, as with no padding PyTorch divides.
        self.ceil_mode = ceil_mode

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = to_channels_first(x, self.data_format)
        dilation = (1,) * len(self.pool_size)
        pads = explicit_pads(self.padding, x.shape[2:], self.pool_size, self.strides, dilation)
        if any(pads):
            y = self.pool_padded(x, pads)
        else:
            y = self.pool(x, self.pool_size, self.strides, ceil_mode=self.ceil_mode)
        return to_spec_layout(y, self.data_format)

    def pool_padded(self, x: torch.Tensor, pads: list[int]) -> torch.Tensor:
        raise NotImplementedError


class MaxPooling(Pooling):
    """MaxPooling1D/2D/3D; padding is -inf, so it never becomes the maximum."""

    kind = "max"

    def pool_padded(self, x: torch.Tensor, pads: list[int]) -> torch.Tensor:
        return self.pool(F.pad(x, pads, value=-torch.inf), self.pool_size, self.strides)


class AveragePooling(Pooling):
    """AveragePooling1D/2D/3D; with padding, each window's sum is divided by the number of real
    (unpadded) elements in it, as Keras does."""

    kind = "average"

    def pool_padded(self, x: torch.Tensor, pads: list[int]) -> torch.Tensor:
        ones = x.new_ones((1, 1, *x.shape[2:]))
        sums = self.pool(F.pad(x, pads), self.pool_size, self.strides)
        counts = self.pool(F.pad(ones, pads), self.pool_size, self.strides)
        return sums / counts


class GlobalPooling(nn.Module):
    """Global ``max`` or ``mean`` over the spatial axes ``dims`` (the batch axis is 0)."""

    def __init__(self, reduce: str, dims: tuple[int, ...], keepdims: bool = False) -> None:
        super().__init__()
        self.reduce = torch.amax if reduce == "max" else torch.mean
        self.dims = dims
        self.keepdims = keepdims

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.reduce(x, dim=self.dims, keepdim=self.keepdims)
