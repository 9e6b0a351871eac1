"""Pooling: Max/AveragePooling1D/2D/3D and their global forms. None has weights.

Padding ``same`` follows TensorFlow (extra element at the end): max pooling pads with -inf so
padding never wins; average pooling leaves the padding out of each window's count, as Keras
does (ONNX ``count_include_pad=0``). The modules are the standalone ones
(``backends/torch/standalone/spatial.py``) that ``export`` copies into ``model.py``.
"""

from __future__ import annotations

from typing import Any

from torch import nn

from backends.torch.model import BUILDERS
from backends.torch.standalone.spatial import AveragePooling, GlobalPooling, MaxPooling, Pooling
from translator.ir import Node
from translator.ops.pooling import GLOBAL_POOLS, POOLS

POOL_CLASSES: dict[str, type[Pooling]] = {
    "MaxPooling1D": MaxPooling,
    "MaxPooling2D": MaxPooling,
    "MaxPooling3D": MaxPooling,
    "AveragePooling1D": AveragePooling,
    "AveragePooling2D": AveragePooling,
    "AveragePooling3D": AveragePooling,
}


def pool_arguments(node: Node) -> dict[str, Any]:
    """The windowed pooling module's arguments (``export`` writes the same ones)."""
    a = node.args
    strides = tuple(a["strides"] or a["pool_size"])
    window = {"pool_size": tuple(a["pool_size"]), "strides": strides}
    return {**window, "padding": a["padding"], "data_format": a["data_format"]}


def global_arguments(node: Node) -> tuple[str, tuple[int, ...], bool]:
    """``GlobalPooling``'s (reduce, dims, keepdims): its spatial axes, the batch axis 0."""
    first = 2 if node.args["data_format"] == "channels_first" else 1
    dims = tuple(range(first, first + GLOBAL_POOLS[node.type]))
    return "max" if "Max" in node.type else "mean", dims, node.args["keepdims"]


@BUILDERS.register(*POOLS)
def build_pooling(node: Node) -> nn.Module:
    """Max/AveragePooling1D/2D/3D(pool_size=2, strides=None, padding=valid|same, data_format)."""
    return POOL_CLASSES[node.type](**pool_arguments(node))


@BUILDERS.register(*GLOBAL_POOLS)
def build_global_pooling(node: Node) -> nn.Module:
    """GlobalMax/AveragePooling1D/2D/3D(data_format, keepdims=False) → ``GlobalPooling``."""
    return GlobalPooling(*global_arguments(node))
