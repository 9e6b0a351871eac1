"""Reshaping layers: Flatten, Reshape, Permute, ZeroPadding2D."""

from __future__ import annotations

from typing import Any

import keras

from backends.keras.model import BUILDERS, keras_args
from translator.ir import Node

# Layers whose spec arguments are exactly their Keras arguments.
PLAIN = {
    "Reshape": keras.layers.Reshape,  # target_shape
    "Permute": keras.layers.Permute,  # dims
    "ZeroPadding2D": keras.layers.ZeroPadding2D,  # padding, data_format
}


@BUILDERS.register(*PLAIN)
def build_plain(node: Node) -> Any:
    """Reshape(target_shape), Permute(dims), ZeroPadding2D(padding=1, data_format)."""
    return PLAIN[node.type](**keras_args(node))


@BUILDERS.register("Flatten")
def build_flatten(node: Node) -> Any:
    """Flatten(): row-major order of the tensor as the spec lays it out."""
    # Keras's Flatten moves channels last before flattening when its data_format (default:
    # the global image_data_format) is channels_first; the spec means memory order.
    return keras.layers.Flatten(**keras_args(node, data_format="channels_last"))
