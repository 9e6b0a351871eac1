"""Normalization: BatchNormalization and LayerNormalization, with the spec's epsilon,
momentum and axis (Keras's own defaults, filled in by the loader)."""

from __future__ import annotations

from typing import Any

import keras

from backends.keras.model import BUILDERS, NAME, keras_args
from translator.errors import UnsupportedInBackend
from translator.ir import Node


@BUILDERS.register("BatchNormalization")
def build_batch_norm(node: Node) -> Any:
    """BatchNormalization(axis=-1, momentum=0.99, epsilon=1e-3, center=True, scale=True)."""
    axis = node.args["axis"]
    if isinstance(axis, tuple):  # the spec may write one axis as a list; Keras wants an int
        if len(axis) != 1:
            raise UnsupportedInBackend(NAME, node.type, "Keras normalizes over one axis only")
        axis = axis[0]
    return keras.layers.BatchNormalization(**keras_args(node, axis=axis))


@BUILDERS.register("LayerNormalization")
def build_layer_norm(node: Node) -> Any:
    """LayerNormalization(axis=-1, epsilon=1e-3, center=True, scale=True)."""
    return keras.layers.LayerNormalization(**keras_args(node))
