"""Reshaping layers: Flatten, Reshape, Permute, ZeroPadding1D/2D/3D, Cropping1D/2D,
UpSampling1D/2D and RepeatVector. None has weights.

They work on the spec's layout directly (every layer hands on tensors in that layout), so
Flatten's row-major order is Keras's.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from backends.torch.model import BUILDERS
from translator.ir import Node


class Flatten(nn.Module):
    """Each example to one axis, in row-major order."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x.reshape(x.shape[0], -1)


class Reshape(nn.Module):
    """Each example to ``target_shape`` (one size may be -1)."""

    def __init__(self, target_shape: tuple[int, ...]) -> None:
        super().__init__()
        self.target_shape = tuple(target_shape)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x.reshape(x.shape[0], *self.target_shape)

    def extra_repr(self) -> str:
        return f"target_shape={self.target_shape}"


class Permute(nn.Module):
    """Permutes the non-batch axes; ``dims`` is 1-based, as in Keras."""

    def __init__(self, dims: tuple[int, ...]) -> None:
        super().__init__()
        self.dims = (0, *dims)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x.permute(self.dims)

    def extra_repr(self) -> str:
        return f"dims={self.dims}"


def spatial_pads(pairs: tuple[tuple[int, int], ...], data_format: str) -> list[int]:
    """``F.pad`` amounts for (before, after) pairs on the spatial axes, in either layout
    (``F.pad`` lists the last axis first; channels-last tensors have channels there)."""
    pads = [p for pair in reversed(pairs) for p in pair]
    return [0, 0, *pads] if data_format == "channels_last" else pads


class SpatialPad(nn.Module):
    """Zeros added to (positive amounts) or elements cut from (negative amounts) each end of
    every spatial axis: ZeroPadding1D/2D/3D, and Cropping1D/2D with the amounts negated."""

    def __init__(self, pads: list[int]) -> None:
        super().__init__()
        self.pads = pads

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.pad(x, self.pads)

    def extra_repr(self) -> str:
        return f"pads={self.pads}"


def spatial_axes(rank: int, data_format: str) -> tuple[int, ...]:
    """The spatial axes of a ``rank``-spatial-axis tensor (batch axis 0) in its layout."""
    first = 2 if data_format == "channels_first" else 1
    return tuple(range(first, first + rank))


class Repeat(nn.Module):
    """Each element repeated ``factors[i]`` times along ``axes[i]`` (nearest upsampling)."""

    def __init__(self, factors: tuple[int, ...], axes: tuple[int, ...]) -> None:
        super().__init__()
        self.factors = factors
        self.axes = axes

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        for factor, axis in zip(self.factors, self.axes, strict=True):
            x = x.repeat_interleave(factor, dim=axis)
        return x

    def extra_repr(self) -> str:
        return f"factors={self.factors}, axes={self.axes}"


class BilinearUpSampling2D(nn.Module):
    """UpSampling2D with ``interpolation: bilinear``. Keras resizes with ``tf.image.resize``
    (half-pixel centers, no antialiasing when enlarging), which is ``F.interpolate`` with
    ``align_corners=False`` to the enlarged size."""

    def __init__(self, factors: tuple[int, int], data_format: str) -> None:
        super().__init__()
        self.factors = factors
        self.data_format = data_format

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x.movedim(-1, 1) if self.data_format == "channels_last" else x
        size = [n * f for n, f in zip(x.shape[2:], self.factors, strict=True)]
        y = F.interpolate(x, size=size, mode="bilinear", align_corners=False)
        return y.movedim(1, -1) if self.data_format == "channels_last" else y

    def extra_repr(self) -> str:
        return f"factors={self.factors}, {self.data_format}"


class RepeatVector(nn.Module):
    """(batch, d) → (batch, n, d): the vector repeated ``n`` times."""

    def __init__(self, n: int) -> None:
        super().__init__()
        self.n = n

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x.unsqueeze(1).repeat(1, self.n, 1)

    def extra_repr(self) -> str:
        return f"n={self.n}"


@BUILDERS.register("Flatten")
def build_flatten(node: Node) -> nn.Module:
    """Flatten() → ``Flatten``."""
    return Flatten()


@BUILDERS.register("Reshape")
def build_reshape(node: Node) -> nn.Module:
    """Reshape(target_shape) → ``Reshape``."""
    return Reshape(node.args["target_shape"])


@BUILDERS.register("Permute")
def build_permute(node: Node) -> nn.Module:
    """Permute(dims) → ``Permute``."""
    return Permute(node.args["dims"])


@BUILDERS.register("ZeroPadding1D", "ZeroPadding2D", "ZeroPadding3D")
def build_zero_padding(node: Node) -> nn.Module:
    """ZeroPadding1D/2D/3D(padding=1, data_format) → ``SpatialPad``."""
    return SpatialPad(spatial_pads(node.args["padding"], node.args["data_format"]))


@BUILDERS.register("Cropping1D", "Cropping2D")
def build_cropping(node: Node) -> nn.Module:
    """Cropping1D(cropping=1) / Cropping2D(cropping=0, data_format) → ``SpatialPad`` with
    negative amounts (Cropping1D always crops axis 1, the steps)."""
    negated = tuple((-a, -b) for a, b in node.args["cropping"])
    return SpatialPad(spatial_pads(negated, node.args.get("data_format", "channels_last")))


@BUILDERS.register("UpSampling1D")
def build_upsampling1d(node: Node) -> nn.Module:
    """UpSampling1D(size=2) → ``Repeat`` along the steps."""
    return Repeat((node.args["size"],), (1,))


@BUILDERS.register("UpSampling2D")
def build_upsampling2d(node: Node) -> nn.Module:
    """UpSampling2D(size=2, data_format, interpolation=nearest|bilinear) → ``Repeat`` of rows
    and columns (nearest) or ``BilinearUpSampling2D``."""
    a = node.args
    factors = tuple(a["size"])
    if a["interpolation"] == "bilinear":
        return BilinearUpSampling2D(factors, a["data_format"])
    return Repeat(factors, spatial_axes(2, a["data_format"]))


@BUILDERS.register("RepeatVector")
def build_repeat_vector(node: Node) -> nn.Module:
    """RepeatVector(n) → ``RepeatVector``."""
    return RepeatVector(node.args["n"])
