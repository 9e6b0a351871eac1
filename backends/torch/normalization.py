"""Normalization: Batch-, Layer-, Group-, RMS- and UnitNormalization, with Keras's semantics.

Carried from the spec, never PyTorch's defaults: ``epsilon`` (Keras 1e-3; RMSNormalization's
1e-6), the momentum (PyTorch's is ``1 − m``), ``center``/``scale``, and any feature axis.
PyTorch normalizes channel axis 1 (batch and group norm) or the trailing axes (layer and RMS
norm), so the layers move the spec's axes there and back around themselves. Layer-, Group-,
RMS- and UnitNormalization are the standalone modules
(``backends/torch/standalone/normalization.py``) that ``export`` copies into ``model.py``;
BatchNormalization keeps the native ``nn.BatchNorm1d/2d/3d`` of each rank here.
"""

from __future__ import annotations

import torch
from torch import nn

from backends.torch.model import BUILDERS
from backends.torch.standalone.emitters import arguments, trailing_axes
from backends.torch.standalone.normalization import (
    GroupNormalization,
    LayerNormalization,
    RMSNormalization,
    UnitNormalization,
    register_affine,
)
from translator.ir import Node
from translator.ops.normalization import normalized_axes


class KerasBatchNorm(nn.Module):
    """Family base of the batch norms: the spec's axis is moved to position 1, and inputs of
    rank > 5 are flattened behind it, since ``nn.BatchNorm3d`` is the highest rank there is."""

    def __init__(self, node: Node) -> None:
        a = node.args
        (index,) = normalized_axes(node)
        channels = node.input_shape[index]
        affine = a["scale"] and a["center"]
        # super() is the native nn.BatchNormNd next in the MRO of each variant below.
        super().__init__(channels, eps=a["epsilon"], momentum=1.0 - a["momentum"], affine=affine)
        if not affine:
            register_affine(self, (channels,), a["scale"], a["center"])
        self.axis = index + 1  # counting the batch axis
        self.flatten = len(node.input_shape) + 1 > 5

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x.movedim(self.axis, 1)
        shape = x.shape
        if self.flatten:
            x = x.reshape(shape[0], shape[1], -1)
        y = super().forward(x)
        return y.reshape(shape).movedim(1, self.axis)


class BatchNorm1d(KerasBatchNorm, nn.BatchNorm1d):
    """BatchNormalization on a rank-2 or rank-3 input (or a flattened higher rank)."""


class BatchNorm2d(KerasBatchNorm, nn.BatchNorm2d):
    """BatchNormalization on a rank-4 input."""


class BatchNorm3d(KerasBatchNorm, nn.BatchNorm3d):
    """BatchNormalization on a rank-5 input."""


# Input rank (with the batch axis) → module; higher ranks use BatchNorm1d, flattened.
BATCH_NORMS: dict[int, type[KerasBatchNorm]] = {
    2: BatchNorm1d,
    3: BatchNorm1d,
    4: BatchNorm2d,
    5: BatchNorm3d,
}


@BUILDERS.register("BatchNormalization")
def build_batch_normalization(node: Node) -> nn.Module:
    """BatchNormalization(axis=-1, momentum=0.99, epsilon=1e-3, center=True, scale=True)
    → ``BatchNorm1d/2d/3d`` with momentum ``1 − m``."""
    rank = len(node.input_shape) + 1
    return BATCH_NORMS.get(rank, BatchNorm1d)(node)


@BUILDERS.register("LayerNormalization")
def build_layer_normalization(node: Node) -> nn.Module:
    """LayerNormalization(axis=-1, epsilon=1e-3, center=True, scale=True)
    → ``LayerNormalization`` (an ``nn.LayerNorm``)."""
    shape, where = trailing_axes(node)
    return LayerNormalization(shape, **where, **arguments(node, "epsilon", "center", "scale"))


@BUILDERS.register("GroupNormalization")
def build_group_normalization(node: Node) -> nn.Module:
    """GroupNormalization(groups=32, axis=-1, epsilon=1e-3, center=True, scale=True)
    → ``GroupNormalization`` (an ``nn.GroupNorm``)."""
    (index,) = normalized_axes(node)
    more = arguments(node, "epsilon", "center", "scale")
    return GroupNormalization(node.args["groups"], node.input_shape[index], index + 1, **more)


@BUILDERS.register("RMSNormalization")
def build_rms_normalization(node: Node) -> nn.Module:
    """RMSNormalization(axis=-1, epsilon=1e-6) → ``RMSNormalization`` (an ``nn.RMSNorm``)."""
    shape, where = trailing_axes(node)
    return RMSNormalization(shape, **where, epsilon=node.args["epsilon"])


@BUILDERS.register("UnitNormalization")
def build_unit_normalization(node: Node) -> nn.Module:
    """UnitNormalization(axis=-1) → ``UnitNormalization``."""
    return UnitNormalization(tuple(i + 1 for i in normalized_axes(node)))
