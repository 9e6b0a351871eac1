"""Standalone PyTorch layers with Keras's semantics: transposed convolutions, zero padding,
cropping, upsampling and RepeatVector.

As in the PyTorch backend (``backends/torch/conv_transpose.py`` and ``reshape.py``): a
transposed convolution computes the full result and crops or zero-extends it to Keras's
output window (PyTorch's own ``padding``/``output_padding`` trim both ends equally, which
cannot express every Keras case); padding and cropping are ``F.pad`` with positive or
negative amounts on the spatial axes of either layout. Export copies what a model needs into
its ``model.py``; see ``backends/torch/standalone/__init__.py`` for the rules this file keeps.
"""

from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from backends.torch.standalone.layers import make_activation
from backends.torch.standalone.spatial import to_channels_first, to_spec_layout

TRANSPOSE_FUNCTIONS = {1: F.conv_transpose1d, 2: F.conv_transpose2d, 3: F.conv_transpose3d}


def transposed_size(n: int, k: int, s: int, d: int, padding: str, output_padding: Any) -> int:
    """Keras's output length of a transposed convolution along one axis."""
    k = k + (k - 1) * (d - 1)
    if output_padding is None:
        return n * s + max(k - s, 0) if padding == "valid" else n * s
    pad = k // 2 if padding == "same" else 0
    return (n - 1) * s + k - 2 * pad + output_padding


def keras_window(n: int, k: int, s: int, d: int, padding: str, output_padding: Any) -> list[int]:
    """``F.pad`` amounts (before, after) that cut the full transposed result of one axis to
    Keras's output: it starts at TensorFlow's leading padding (``same``) or 0 (``valid``);
    a negative amount crops, a positive one appends zeros."""
    out = transposed_size(n, k, s, d, padding, output_padding)
    full = (n - 1) * s + (k - 1) * d + 1
    start = max(full - out, 0) // 2 if padding == "same" else 0
    return [-start, start + out - full]


class KerasConvTranspose(nn.Module):
    """Family base of the transposed convolutions: the full transposed convolution, cut to
    Keras's window, then the bias and the activation, in the spec's layout. The weight is
    PyTorch's (in, filters, *k)."""

    weight: torch.Tensor
    bias: torch.Tensor | None
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
        output_padding: tuple[int, ...] | None = None,
        activation: str | None = None,
        use_bias: bool = True,
    ) -> None:
        # super() is the native nn.ConvTransposeNd next in the MRO of each variant below.
        super().__init__(
            in_channels,
            filters,
            kernel_size,
            stride=strides,
            dilation=dilation_rate,
            bias=use_bias,
        )
        self.rank = len(kernel_size)
        self.spec_padding = padding
        self.output_paddings = output_padding or (None,) * self.rank
        self.data_format = data_format
        self.activation = make_activation(activation)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = to_channels_first(x, self.data_format)
        transpose = TRANSPOSE_FUNCTIONS[self.rank]
        y = transpose(x, self.weight, None, self.stride, 0, 0, 1, self.dilation)
        pads: list[int] = []
        windows = zip(x.shape[2:], self.kernel_size, self.stride, self.dilation, strict=True)
        for (n, k, s, d), p in zip(windows, self.output_paddings, strict=True):
            pads = keras_window(n, k, s, d, self.spec_padding, p) + pads
        if any(pads):
            y = F.pad(y, pads)
        if self.bias is not None:
            y = y + self.bias.reshape(-1, *(1,) * self.rank)
        return self.activation(to_spec_layout(y, self.data_format))


class Conv1DTranspose(KerasConvTranspose, nn.ConvTranspose1d):  # type: ignore[misc]  # Keras's forward(x), no output_size
    """Keras Conv1DTranspose as an ``nn.ConvTranspose1d``: weight (in, filters, k)."""


class Conv2DTranspose(KerasConvTranspose, nn.ConvTranspose2d):  # type: ignore[misc]  # Keras's forward(x), no output_size
    """Keras Conv2DTranspose as an ``nn.ConvTranspose2d``: weight (in, filters, kh, kw)."""


class Conv3DTranspose(KerasConvTranspose, nn.ConvTranspose3d):  # type: ignore[misc]  # Keras's forward(x), no output_size
    """Keras Conv3DTranspose as an ``nn.ConvTranspose3d``: weight (in, filters, kd, kh, kw)."""


def spatial_pads(pairs: Any, data_format: str) -> list[int]:
    """``F.pad`` amounts for (before, after) pairs on the spatial axes, in either layout
    (``F.pad`` lists the last axis first; channels-last tensors have channels there)."""
    pads = [p for pair in reversed(pairs) for p in pair]
    return [0, 0, *pads] if data_format == "channels_last" else pads


class ZeroPadding(nn.Module):
    """ZeroPadding1D/2D/3D: (before, after) zeros on each spatial axis, in either layout."""

    def __init__(self, padding: Any, data_format: str = "channels_last") -> None:
        super().__init__()
        self.pads = spatial_pads(padding, data_format)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.pad(x, self.pads)


class Cropping(nn.Module):
    """Cropping1D/2D: (start, end) elements cut from each spatial axis (Cropping1D's is the
    steps axis), as ``F.pad`` with negative amounts."""

    def __init__(self, cropping: Any, data_format: str = "channels_last") -> None:
        super().__init__()
        self.pads = [-p for p in spatial_pads(cropping, data_format)]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.pad(x, self.pads)


class Repeat(nn.Module):
    """Nearest upsampling: each element repeated ``factors[i]`` times along ``axes[i]`` (the
    batch axis is 0)."""

    def __init__(self, factors: tuple[int, ...], axes: tuple[int, ...]) -> None:
        super().__init__()
        self.factors = factors
        self.axes = axes

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        for factor, axis in zip(self.factors, self.axes, strict=True):
            x = x.repeat_interleave(factor, dim=axis)
        return x


class BilinearUpSampling2D(nn.Module):
    """UpSampling2D with ``interpolation: bilinear``: Keras's ``tf.image.resize`` (half-pixel
    centers, no antialiasing when enlarging) is ``F.interpolate`` with
    ``align_corners=False`` to the enlarged size."""

    def __init__(self, factors: tuple[int, int], data_format: str) -> None:
        super().__init__()
        self.factors = factors
        self.data_format = data_format

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = to_channels_first(x, self.data_format)
        size = [n * f for n, f in zip(x.shape[2:], self.factors, strict=True)]
        y = F.interpolate(x, size=size, mode="bilinear", align_corners=False)
        return to_spec_layout(y, self.data_format)


class RepeatVector(nn.Module):
    """(batch, d) → (batch, n, d): the vector repeated ``n`` times."""

    def __init__(self, n: int) -> None:
        super().__init__()
        self.n = n

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x.unsqueeze(1).repeat(1, self.n, 1)
