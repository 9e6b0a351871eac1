"""Pooling: Max/AveragePooling1D/2D/3D and their global forms. None has weights.

Padding ``same`` follows TensorFlow (extra element at the end): max pooling pads with -inf so
padding never wins; average pooling leaves the padding out of each window's count, as Keras
does (ONNX ``count_include_pad=0``).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from backends.torch.conv import PADDINGS, Pads, to_channels_first, to_spec_layout
from backends.torch.model import BUILDERS
from translator.ir import Node
from translator.ops.pooling import GLOBAL_POOLS, POOLS

POOL_FUNCTIONS = {
    ("max", 1): F.max_pool1d,
    ("max", 2): F.max_pool2d,
    ("max", 3): F.max_pool3d,
    ("average", 1): F.avg_pool1d,
    ("average", 2): F.avg_pool2d,
    ("average", 3): F.avg_pool3d,
}


class Pooling(nn.Module):
    """Family base of windowed pooling; variants set ``kind`` and how padding is handled."""

    kind = ""

    def __init__(self, node: Node) -> None:
        super().__init__()
        a = node.args
        self.rank = POOLS[node.type]
        self.pool = POOL_FUNCTIONS[(self.kind, self.rank)]
        self.pool_size = tuple(a["pool_size"])
        self.strides = tuple(a["strides"] or a["pool_size"])
        self.padding = a["padding"]
        self.data_format = a["data_format"]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = to_channels_first(x, self.data_format)
        dilation = (1,) * self.rank
        pads = PADDINGS[self.padding](x.shape[2:], self.pool_size, self.strides, dilation)
        y = self.pool_padded(x, pads) if any(pads) else self.pool(x, self.pool_size, self.strides)
        return to_spec_layout(y, self.data_format)

    def pool_padded(self, x: torch.Tensor, pads: Pads) -> torch.Tensor:
        raise NotImplementedError

    def extra_repr(self) -> str:
        return f"pool_size={self.pool_size}, strides={self.strides}, padding={self.padding}"


class MaxPooling(Pooling):
    """MaxPooling1D/2D/3D; padding is -inf, so it never becomes the maximum."""

    kind = "max"

    def pool_padded(self, x: torch.Tensor, pads: Pads) -> torch.Tensor:
        return self.pool(F.pad(x, pads, value=-torch.inf), self.pool_size, self.strides)


class AveragePooling(Pooling):
    """AveragePooling1D/2D/3D; with padding the sum of each window is divided by the number of
    real (unpadded) elements in it."""

    kind = "average"

    def pool_padded(self, x: torch.Tensor, pads: Pads) -> torch.Tensor:
        ones = x.new_ones((1, 1, *x.shape[2:]))
        sums = self.pool(F.pad(x, pads), self.pool_size, self.strides)
        counts = self.pool(F.pad(ones, pads), self.pool_size, self.strides)
        return sums / counts


GLOBAL_REDUCTIONS = {
    "GlobalAveragePooling1D": torch.mean,
    "GlobalAveragePooling2D": torch.mean,
    "GlobalAveragePooling3D": torch.mean,
    "GlobalMaxPooling1D": torch.amax,
    "GlobalMaxPooling2D": torch.amax,
    "GlobalMaxPooling3D": torch.amax,
}


class GlobalPooling(nn.Module):
    """Global max/average pooling over every spatial axis, in the spec's layout."""

    def __init__(self, node: Node) -> None:
        super().__init__()
        rank = GLOBAL_POOLS[node.type]
        first = 2 if node.args["data_format"] == "channels_first" else 1
        self.dims = tuple(range(first, first + rank))
        self.keepdims = node.args["keepdims"]
        self.reduce = GLOBAL_REDUCTIONS[node.type]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.reduce(x, dim=self.dims, keepdim=self.keepdims)

    def extra_repr(self) -> str:
        return f"dims={self.dims}, keepdims={self.keepdims}"


POOL_CLASSES: dict[str, type[Pooling]] = {
    "MaxPooling1D": MaxPooling,
    "MaxPooling2D": MaxPooling,
    "MaxPooling3D": MaxPooling,
    "AveragePooling1D": AveragePooling,
    "AveragePooling2D": AveragePooling,
    "AveragePooling3D": AveragePooling,
}


@BUILDERS.register(*POOL_CLASSES)
def build_pooling(node: Node) -> nn.Module:
    """Max/AveragePooling1D/2D/3D(pool_size=2, strides=None, padding=valid|same, data_format)."""
    return POOL_CLASSES[node.type](node)


@BUILDERS.register(*GLOBAL_REDUCTIONS)
def build_global_pooling(node: Node) -> nn.Module:
    """GlobalMax/AveragePooling1D/2D/3D(data_format, keepdims=False) → ``GlobalPooling``."""
    return GlobalPooling(node)
