"""Normalization: Batch-, Layer-, Group-, RMS- and UnitNormalization, with Keras's semantics.

Carried from the spec, never PyTorch's defaults: ``epsilon`` (Keras 1e-3; RMSNormalization's
1e-6), the momentum (PyTorch's is ``1 − m``), ``center``/``scale``, and any feature axis.
PyTorch normalizes channel axis 1 (batch and group norm) or the trailing axes (layer and RMS
norm), so the layers move the spec's axes there and back around themselves.
"""

from __future__ import annotations

import torch
from torch import nn

from backends.torch.model import BUILDERS
from translator.ir import Node
from translator.ops.normalization import normalized_axes


def register_affine(module: nn.Module, shape: tuple[int, ...], scale: bool, center: bool) -> None:
    """Give a module built with ``affine=False`` just the scale (``weight``) or just the
    offset (``bias``), which is what Keras creates when only one of scale/center is on."""
    if scale:
        module.weight = nn.Parameter(torch.ones(shape))
    if center:
        module.bias = nn.Parameter(torch.zeros(shape))


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


class TrailingAxes(nn.Module):
    """Family base of the norms PyTorch applies to the trailing axes (``nn.LayerNorm``,
    ``nn.RMSNorm``): the normalized axes (in increasing order, which is the order of the
    weight's dimensions) are moved to the end when they are not the trailing ones already."""

    def move_axes(self, node: Node) -> None:
        """Record the permutation that puts the node's normalized axes last."""
        axes = normalized_axes(node)
        rank = len(node.input_shape)
        order = [i for i in range(rank) if i not in axes] + list(axes)
        self.permutation = (0, *(i + 1 for i in order))
        self.inverse = tuple(sorted(range(rank + 1), key=self.permutation.__getitem__))
        self.trailing = order == list(range(rank))  # nothing to move

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.trailing:
            return super().forward(x)
        return super().forward(x.permute(self.permutation)).permute(self.inverse)


def normalized_shape(node: Node) -> tuple[int, ...]:
    """The sizes of the node's normalized axes, in increasing axis order."""
    return tuple(node.input_shape[i] for i in normalized_axes(node))


class LayerNormalization(TrailingAxes, nn.LayerNorm):
    """Keras LayerNormalization over any set of axes (an ``nn.LayerNorm``)."""

    def __init__(self, node: Node) -> None:
        a = node.args
        shape = normalized_shape(node)
        affine = a["scale"] and a["center"]
        super().__init__(shape, eps=a["epsilon"], elementwise_affine=affine)
        if not affine:
            register_affine(self, shape, a["scale"], a["center"])
        self.move_axes(node)


class RMSNormalization(TrailingAxes, nn.RMSNorm):
    """Keras RMSNormalization, ``x * rsqrt(mean(x², axes) + epsilon) * scale``, which is
    ``nn.RMSNorm``'s formula exactly; the scale is ``weight``. (The schema admits trailing
    axes only, as Keras aligns its scale to them; nothing needs moving then.)"""

    def __init__(self, node: Node) -> None:
        super().__init__(normalized_shape(node), eps=node.args["epsilon"])
        self.move_axes(node)


class GroupNormalization(nn.GroupNorm):
    """Keras GroupNormalization: channels split into ``groups`` contiguous groups, each
    normalized per example over its channels and every other axis (``nn.GroupNorm``, with the
    spec's channel axis moved to position 1)."""

    def __init__(self, node: Node) -> None:
        a = node.args
        (index,) = normalized_axes(node)
        channels = node.input_shape[index]
        affine = a["scale"] and a["center"]
        super().__init__(a["groups"], channels, eps=a["epsilon"], affine=affine)
        if not affine:
            register_affine(self, (channels,), a["scale"], a["center"])
        self.axis = index + 1  # counting the batch axis

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return super().forward(x.movedim(self.axis, 1)).movedim(1, self.axis)


class UnitNormalization(nn.Module):
    """Keras UnitNormalization: ``x * min(rsqrt(sum(x², axes)), 1 / 1e-12)`` (Keras's
    ``ops.normalize`` with its fixed epsilon 1e-12, written the way Keras computes it)."""

    EPSILON = 1e-12

    def __init__(self, node: Node) -> None:
        super().__init__()
        self.dims = tuple(i + 1 for i in normalized_axes(node))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        inverse_norm = torch.rsqrt(torch.sum(x * x, dim=self.dims, keepdim=True))
        return x * torch.clamp(inverse_norm, max=1.0 / self.EPSILON)

    def extra_repr(self) -> str:
        return f"dims={self.dims}"


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
    return LayerNormalization(node)


@BUILDERS.register("GroupNormalization")
def build_group_normalization(node: Node) -> nn.Module:
    """GroupNormalization(groups=32, axis=-1, epsilon=1e-3, center=True, scale=True)
    → ``GroupNormalization`` (an ``nn.GroupNorm``)."""
    return GroupNormalization(node)


@BUILDERS.register("RMSNormalization")
def build_rms_normalization(node: Node) -> nn.Module:
    """RMSNormalization(axis=-1, epsilon=1e-6) → ``RMSNormalization`` (an ``nn.RMSNorm``)."""
    return RMSNormalization(node)


@BUILDERS.register("UnitNormalization")
def build_unit_normalization(node: Node) -> nn.Module:
    """UnitNormalization(axis=-1) → ``UnitNormalization``."""
    return UnitNormalization(node)
