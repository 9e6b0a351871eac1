"""Reshaping layers: Flatten, Reshape, Permute, ZeroPadding1D/2D/3D, Cropping1D/2D,
UpSampling1D/2D and RepeatVector. None has weights.

They work on the spec's layout directly (every layer hands on tensors in that layout), so
Flatten's row-major order is Keras's. The modules are the standalone ones
(``backends/torch/standalone/layers.py`` and ``resampling.py``) that ``export`` copies into
``model.py``; the builders here derive their arguments from the IR.
"""

from __future__ import annotations

from torch import nn

from backends.torch.model import BUILDERS
from backends.torch.standalone.layers import Flatten, Permute, Reshape
from backends.torch.standalone.resampling import (
    BilinearUpSampling2D,
    Cropping,
    Repeat,
    RepeatVector,
    ZeroPadding,
)
from translator.ir import Node


@BUILDERS.register("Flatten")
def build_flatten(node: Node) -> nn.Module:
    """Flatten() → ``Flatten``."""
    return Flatten()


@BUILDERS.register("Reshape")
def build_reshape(node: Node) -> nn.Module:
    """Reshape(target_shape) → ``Reshape``."""
    return Reshape(tuple(node.args["target_shape"]))


@BUILDERS.register("Permute")
def build_permute(node: Node) -> nn.Module:
    """Permute(dims) → ``Permute``."""
    return Permute(node.args["dims"])


@BUILDERS.register("ZeroPadding1D", "ZeroPadding2D", "ZeroPadding3D")
def build_zero_padding(node: Node) -> nn.Module:
    """ZeroPadding1D/2D/3D(padding=1, data_format) → ``ZeroPadding``."""
    return ZeroPadding(node.args["padding"], node.args["data_format"])


@BUILDERS.register("Cropping1D", "Cropping2D")
def build_cropping(node: Node) -> nn.Module:
    """Cropping1D(cropping=1) / Cropping2D(cropping=0, data_format) → ``Cropping``, ``F.pad``
    with negative amounts (Cropping1D always crops axis 1, the steps)."""
    return Cropping(node.args["cropping"], node.args.get("data_format", "channels_last"))


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
    first = 2 if a["data_format"] == "channels_first" else 1
    return Repeat(factors, (first, first + 1))


@BUILDERS.register("RepeatVector")
def build_repeat_vector(node: Node) -> nn.Module:
    """RepeatVector(n) → ``RepeatVector``."""
    return RepeatVector(node.args["n"])
