"""Pooling: Max/AveragePooling1D/2D/3D and their global forms.

channels_first runs on CPU as it is: Keras's TF backend transposes to channels_last around
TF's pooling ops itself, and the global poolings are plain reductions over the spatial axes.
"""

from __future__ import annotations

from typing import Any

import keras

from backends.keras.importing import IMPORTERS, by_schema
from backends.keras.model import BUILDERS, keras_args
from translator.ir import Node

# Every pooling layer's spec arguments are exactly its Keras arguments.
POOLS = {
    "MaxPooling1D": keras.layers.MaxPooling1D,
    "MaxPooling2D": keras.layers.MaxPooling2D,
    "MaxPooling3D": keras.layers.MaxPooling3D,
    "AveragePooling1D": keras.layers.AveragePooling1D,
    "AveragePooling2D": keras.layers.AveragePooling2D,
    "AveragePooling3D": keras.layers.AveragePooling3D,
    "GlobalAveragePooling1D": keras.layers.GlobalAveragePooling1D,
    "GlobalAveragePooling2D": keras.layers.GlobalAveragePooling2D,
    "GlobalAveragePooling3D": keras.layers.GlobalAveragePooling3D,
    "GlobalMaxPooling1D": keras.layers.GlobalMaxPooling1D,
    "GlobalMaxPooling2D": keras.layers.GlobalMaxPooling2D,
    "GlobalMaxPooling3D": keras.layers.GlobalMaxPooling3D,
}


@BUILDERS.register(*POOLS)
def build_pool(node: Node) -> Any:
    """XPoolingND(pool_size=2, strides=None, padding="valid", data_format) and
    GlobalXPoolingND(data_format, keepdims=False)."""
    return POOLS[node.type](**keras_args(node))


IMPORTERS.register(*POOLS)(by_schema)  # Keras's classes, same arguments
