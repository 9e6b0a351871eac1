"""Normalization: Batch-, Layer-, Group-, RMS- and UnitNormalization, and LayerScale, with the spec's epsilon,
momentum and axis (Keras's own defaults, filled in by the loader).

RMSNormalization is ``x · rsqrt(mean(x², axes) + epsilon) · scale``; Keras multiplies by the
scale with plain broadcasting, so the spec allows only trailing axes. They reach Keras as
sorted positive indexes: Keras sorts the written values, so ``[1, -1]`` would otherwise give
a scale of shape (last, first), which cannot broadcast against the input.
"""

from __future__ import annotations

from typing import Any

import keras
from keras.src.applications.convnext import LayerScale

from backends.keras.importing import IMPORTERS, by_schema
from backends.keras.model import BUILDERS, NAME, NAMED_BY_ATTRIBUTE, keras_args
from translator.errors import UnsupportedInBackend
from translator.ir import Node
from translator.ops.normalization import normalized_axes


def _single_axis(node: Node) -> int:
    """The node's one axis as an int (the spec may write it as a one-item list)."""
    axis = node.args["axis"]
    if isinstance(axis, tuple):
        if len(axis) != 1:
            raise UnsupportedInBackend(NAME, node.type, "Keras normalizes over one axis only")
        axis = axis[0]
    return axis


@BUILDERS.register("BatchNormalization")
def build_batch_norm(node: Node) -> Any:
    """BatchNormalization(axis=-1, momentum=0.99, epsilon=1e-3, center=True, scale=True)."""
    return keras.layers.BatchNormalization(**keras_args(node, axis=_single_axis(node)))


@BUILDERS.register("LayerNormalization")
def build_layer_norm(node: Node) -> Any:
    """LayerNormalization(axis=-1, epsilon=1e-3, center=True, scale=True)."""
    return keras.layers.LayerNormalization(**keras_args(node))


@BUILDERS.register("GroupNormalization")
def build_group_norm(node: Node) -> Any:
    """GroupNormalization(groups=32, axis=-1, epsilon=1e-3, center=True, scale=True): Keras
    splits the channel axis (any axis) into ``groups`` consecutive groups."""
    return keras.layers.GroupNormalization(**keras_args(node, axis=_single_axis(node)))


@BUILDERS.register("RMSNormalization")
def build_rms_norm(node: Node) -> Any:
    """RMSNormalization(axis=-1, epsilon=1e-6) over trailing axes."""
    axes = [i + 1 for i in normalized_axes(node)]  # with the batch axis as 0
    return keras.layers.RMSNormalization(**keras_args(node, axis=axes))


@BUILDERS.register("UnitNormalization")
def build_unit_norm(node: Node) -> Any:
    """UnitNormalization(axis=-1): ``x · min(rsqrt(sum(x², axes)), 1e12)``, Keras's formula."""
    axis = node.args["axis"]
    return keras.layers.UnitNormalization(
        **keras_args(node, axis=list(axis) if isinstance(axis, tuple) else axis)
    )


@BUILDERS.register("LayerScale")
def build_layer_scale(node: Node) -> Any:
    """LayerScale(init_values, projection_dim) → keras.applications' ConvNeXt ``LayerScale``
    (Keras has no public class; this one loads from a ``.keras`` file in safe mode)."""
    return LayerScale(**keras_args(node))


NAMED_BY_ATTRIBUTE[LayerScale] = ("gamma",)  # its variable is unnamed ("variable_17")


# Keras's classes of the same names, same arguments.
IMPORTERS.register(
    "BatchNormalization",
    "LayerNormalization",
    "GroupNormalization",
    "RMSNormalization",
    "UnitNormalization",
    "LayerScale",
)(by_schema)
