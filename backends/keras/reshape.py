"""Reshaping layers: Flatten, Reshape, Permute, zero padding (1-D/2-D/3-D), cropping (1-D/2-D),
upsampling (1-D/2-D) and RepeatVector.

UpSampling2D's bilinear mode is Keras's: ``tf.image.resize`` with half-pixel centers and no
antialiasing (which only matters when shrinking). Nearest repeats each row and column.
"""

from __future__ import annotations

from typing import Any

import keras

from backends.keras.importing import IMPORTERS, by_schema
from backends.keras.model import BUILDERS, keras_args
from translator.ir import Node

# Layers whose spec arguments are exactly their Keras arguments (padding and cropping are
# ((before, after), ...) pairs per spatial axis, which Keras takes for 2-D and 3-D).
PLAIN = {
    "Reshape": keras.layers.Reshape,  # target_shape
    "Permute": keras.layers.Permute,  # dims
    "ZeroPadding2D": keras.layers.ZeroPadding2D,  # padding, data_format
    "ZeroPadding3D": keras.layers.ZeroPadding3D,  # padding, data_format
    "Cropping2D": keras.layers.Cropping2D,  # cropping, data_format
    "UpSampling1D": keras.layers.UpSampling1D,  # size
    "UpSampling2D": keras.layers.UpSampling2D,  # size, data_format, interpolation
    "RepeatVector": keras.layers.RepeatVector,  # n
}
# 1-D layers take one (before, after) pair rather than a tuple of pairs.
ONE_PAIR = {
    "ZeroPadding1D": (keras.layers.ZeroPadding1D, "padding"),
    "Cropping1D": (keras.layers.Cropping1D, "cropping"),
}


@BUILDERS.register(*PLAIN)
def build_plain(node: Node) -> Any:
    """Reshape(target_shape), Permute(dims), ZeroPadding2D/3D(padding=1, data_format),
    Cropping2D(cropping=0, data_format), UpSampling1D(size=2), UpSampling2D(size=2,
    data_format, interpolation="nearest"), RepeatVector(n)."""
    return PLAIN[node.type](**keras_args(node))


@BUILDERS.register(*ONE_PAIR)
def build_one_pair(node: Node) -> Any:
    """ZeroPadding1D(padding=1) and Cropping1D(cropping=1) over the time axis."""
    layer_class, arg = ONE_PAIR[node.type]
    (pair,) = node.args[arg]
    return layer_class(**keras_args(node, **{arg: pair}))


@BUILDERS.register("Flatten")
def build_flatten(node: Node) -> Any:
    """Flatten(): row-major order of the tensor as the spec lays it out."""
    # Keras's Flatten moves channels last before flattening when its data_format (default:
    # the global image_data_format) is channels_first; the spec means memory order.
    return keras.layers.Flatten(**keras_args(node, data_format="channels_last"))


IMPORTERS.register(*PLAIN, *ONE_PAIR, "Flatten")(by_schema)  # Keras's classes, same arguments
