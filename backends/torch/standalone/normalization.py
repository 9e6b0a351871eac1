"""Standalone PyTorch layers with Keras's semantics: Batch-, Layer-, Group-, RMS- and
UnitNormalization.

As in the PyTorch backend (``backends/torch/normalization.py``): the spec's epsilon, momentum
(PyTorch's is ``1 - momentum``), center/scale and any feature axis, moved where PyTorch
normalizes (axis 1, or the trailing axes) and back. Export copies what a model needs into
its ``model.py``; see ``backends/torch/standalone/__init__.py`` for the rules this file
keeps.
"""

from __future__ import annotations

import torch
from torch import nn


def register_affine(module: nn.Module, shape: tuple[int, ...], scale: bool, center: bool) -> None:
    """Give a module built without affine parameters just the scale (``weight``) or just the
    offset (``bias``): what Keras creates when only one of scale/center is on."""
    if scale:
        module.weight = nn.Parameter(torch.ones(shape))
    if center:
        module.bias = nn.Parameter(torch.zeros(shape))


class BatchNormalization(nn.BatchNorm1d):
    """Keras BatchNormalization over the feature axis ``axis`` (the batch axis is 0): that
    axis moves to position 1 and the others are flattened behind it, so one ``BatchNorm1d``
    serves every rank. ``momentum`` is Keras's; PyTorch's is ``1 - momentum``."""

    def __init__(
        self,
        channels: int,
        axis: int,
        momentum: float,
        epsilon: float,
        center: bool = True,
        scale: bool = True,
    ) -> None:
        affine = scale and center
        super().__init__(channels, eps=epsilon, momentum=1.0 - momentum, affine=affine)
        if not affine:
            register_affine(self, (channels,), scale, center)
        self.axis = axis

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x.movedim(self.axis, 1)
        shape = x.shape
        y = super().forward(x.reshape(shape[0], shape[1], -1))
        return y.reshape(shape).movedim(1, self.axis)


class TrailingAxes(nn.Module):
    """Family base of the norms PyTorch applies to the trailing axes (``nn.LayerNorm``,
    ``nn.RMSNorm``): ``axes`` (the batch axis is 0) of a rank-``rank`` input move to the end
    when they are not the trailing ones already."""

    def move_axes(self, axes: tuple[int, ...], rank: int) -> None:
        order = [i for i in range(rank) if i not in axes] + sorted(axes)
        self.permutation = tuple(order)
        self.inverse = tuple(sorted(range(rank), key=order.__getitem__))
        self.trailing = self.permutation == tuple(range(rank))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        # super() is the native norm next in the MRO of each variant below.
        if self.trailing:
            return super().forward(x)
        return super().forward(x.permute(self.permutation)).permute(self.inverse)


class LayerNormalization(TrailingAxes, nn.LayerNorm):
    """Keras LayerNormalization over ``axes`` (the batch axis is 0) of a rank-``rank``
    input."""

    def __init__(
        self,
        shape: tuple[int, ...],
        axes: tuple[int, ...],
        rank: int,
        epsilon: float,
        center: bool = True,
        scale: bool = True,
    ) -> None:
        affine = scale and center
        super().__init__(shape, eps=epsilon, elementwise_affine=affine)
        if not affine:
            register_affine(self, tuple(shape), scale, center)
        self.move_axes(axes, rank)


class RMSNormalization(TrailingAxes, nn.RMSNorm):
    """Keras RMSNormalization, ``x * rsqrt(mean(x**2, axes) + epsilon) * weight``: exactly
    ``nn.RMSNorm``'s formula."""

    def __init__(
        self, shape: tuple[int, ...], axes: tuple[int, ...], rank: int, epsilon: float
    ) -> None:
        super().__init__(shape, eps=epsilon)
        self.move_axes(axes, rank)


class LayerScale(nn.Module):
    """A learned scale per feature of the last axis: ``x * gamma`` (timm's LayerScale)."""

    def __init__(self, dim: int, init_values: float) -> None:
        super().__init__()
        self.gamma = nn.Parameter(torch.full((dim,), init_values))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x * self.gamma


class GroupNormalization(nn.GroupNorm):
    """Keras GroupNormalization: the channels (axis ``axis``, the batch axis is 0) in
    ``groups`` contiguous groups, each normalized per example over its channels and every
    other axis (``nn.GroupNorm`` with the channel axis moved to position 1)."""

    def __init__(
        self,
        groups: int,
        channels: int,
        axis: int,
        epsilon: float,
        center: bool = True,
        scale: bool = True,
    ) -> None:
        affine = scale and center
        super().__init__(groups, channels, eps=epsilon, affine=affine)
        if not affine:
            register_affine(self, (channels,), scale, center)
        self.axis = axis

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return super().forward(x.movedim(self.axis, 1)).movedim(1, self.axis)


class UnitNormalization(nn.Module):
    """Keras UnitNormalization: ``x * min(rsqrt(sum(x**2, dims)), 1e12)`` (Keras's
    ``ops.normalize`` with its fixed epsilon 1e-12, written the way Keras computes it)."""

    def __init__(self, dims: tuple[int, ...]) -> None:
        super().__init__()
        self.dims = dims

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        inverse_norm = torch.rsqrt(torch.sum(x * x, dim=self.dims, keepdim=True))
        return x * torch.clamp(inverse_norm, max=1.0 / 1e-12)


class Standardization(nn.Module):
    """Keras Normalization: ``(x - mean) / max(sqrt(variance), 1e-7)``, or with ``invert``
    ``mean + x * max(sqrt(variance), 1e-7)``, mean and variance viewed as ``broadcast``
    against the input (batch axis included). Where they come from is the subclass's."""

    def __init__(self, broadcast: list[int], invert: bool, epsilon: float) -> None:
        super().__init__()
        self.broadcast = broadcast
        self.invert = invert
        self.epsilon = epsilon

    def statistics(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        raise NotImplementedError

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        mean, variance = self.statistics(x)
        mean = mean.reshape(self.broadcast)
        std = torch.sqrt(variance.reshape(self.broadcast)).clamp_min(self.epsilon)
        return mean + x * std if self.invert else (x - mean) / std


class Standardize(Standardization):
    """Keras Normalization with stored statistics (as ``adapt`` leaves it). ``mean`` and
    ``variance`` (of shape ``shape``) are buffers (``nn.Buffer``): statistics, which PyTorch
    neither trains nor counts as parameters. Keras's third weight, the sample count ``adapt``
    saw, is unused at inference and has no counterpart here."""

    def __init__(
        self, shape: list[int], broadcast: list[int], invert: bool = False, epsilon: float = 1e-7
    ) -> None:
        super().__init__(broadcast, invert, epsilon)
        self.mean = nn.Buffer(torch.zeros(shape))
        self.variance = nn.Buffer(torch.ones(shape))

    def statistics(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        return self.mean, self.variance


class ConstantStandardize(Standardization):
    """Keras Normalization with mean and variance given as arguments: constants of the
    module, as Keras holds them (no parameters, no buffers, nothing in the state_dict); made
    on the input's device and dtype."""

    def __init__(
        self,
        mean: list[float],
        variance: list[float],
        broadcast: list[int],
        invert: bool = False,
        epsilon: float = 1e-7,
    ) -> None:
        super().__init__(broadcast, invert, epsilon)
        self.mean_values = mean
        self.variance_values = variance

    def statistics(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        mean = torch.tensor(self.mean_values, dtype=x.dtype, device=x.device)
        return mean, torch.tensor(self.variance_values, dtype=x.dtype, device=x.device)
