"""Reshaping layers: Flatten, Reshape, Permute, ZeroPadding2D. None has weights.

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


class ZeroPadding2D(nn.Module):
    """Zero rows (top, bottom) and columns (left, right) around an image, in either layout."""

    def __init__(self, padding: tuple[tuple[int, int], ...], data_format: str) -> None:
        super().__init__()
        (top, bottom), (left, right) = padding
        # F.pad lists the last axis first; channels-last images have channels there.
        pads = [left, right, top, bottom]
        self.pads = [0, 0, *pads] if data_format == "channels_last" else pads

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.pad(x, self.pads)

    def extra_repr(self) -> str:
        return f"pads={self.pads}"


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


@BUILDERS.register("ZeroPadding2D")
def build_zero_padding2d(node: Node) -> nn.Module:
    """ZeroPadding2D(padding=1, data_format) → ``ZeroPadding2D``."""
    return ZeroPadding2D(node.args["padding"], node.args["data_format"])
