"""Convolutions: Conv1D, Conv2D and Conv3D, including channels_first.

Keras 3.15 on TensorFlow 2.21 hands ``channels_first`` convolutions to TF as NCW/NCHW. On CPU
that only works when TensorFlow runs with oneDNN (the x86 Linux default) or when Keras
compiles the op with XLA (grouped convolutions, and every channels_first Conv3D); with
``TF_ENABLE_ONEDNN_OPTS=0`` a plain NCHW ``Conv2D`` fails with "The Conv2D op currently only
supports the NHWC tensor format on the CPU". So channels_first layers here are Keras's own
classes whose ``call`` transposes to channels_last, convolves with the same kernel (Keras
keeps it in the same layout for both formats), adds the bias and transposes back before the
activation. The variables, their names and the arithmetic are Keras's; only the memory
layout of the intermediate differs. The transposed convolutions reuse these helpers.
Pooling needs no such help: Keras's TF backend already transposes around TF's pooling.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import keras

from backends.keras.activation import activation
from backends.keras.model import BUILDERS, keras_args
from translator.ir import Node


def to_channels_last(x: Any, rank: int) -> Any:
    """(batch, channels, *spatial) → (batch, *spatial, channels)."""
    return keras.ops.transpose(x, (0, *range(2, rank + 2), 1))


def to_channels_first(x: Any, rank: int) -> Any:
    """(batch, *spatial, channels) → (batch, channels, *spatial)."""
    return keras.ops.transpose(x, (0, rank + 1, *range(1, rank + 1)))


def channels_last_apply(layer: Any, inputs: Any, convolve: Callable[[Any], Any]) -> Any:
    """What Keras's ``call`` computes for a channels_first ``layer`` whose ``convolve`` maps a
    channels_last input to a channels_last output: bias, then the activation, as Keras does."""
    y = convolve(to_channels_last(inputs, layer.rank))
    if layer.use_bias:
        y = keras.ops.add(y, layer.bias)
    y = to_channels_first(y, layer.rank)
    # Keras applies the activation to the channels_first output (a softmax, say, then runs
    # over the last spatial axis), so it comes after the transpose back.
    return layer.activation(y) if layer.activation is not None else y


def channels_last_call(layer: Any, inputs: Any) -> Any:
    """What Keras's ``call`` computes for a channels_first ``layer``, done in channels_last
    (causal padding, as Keras Conv1D pads: dilation × (kernel − 1) zeros at the start)."""

    def convolve(x: Any) -> Any:
        padding = layer.padding
        if padding == "causal":
            left = layer.dilation_rate[0] * (layer.kernel_size[0] - 1)
            x = keras.ops.pad(x, ((0, 0), (left, 0), (0, 0)))
            padding = "valid"
        return keras.ops.conv(
            x,
            layer.kernel,
            strides=list(layer.strides),
            padding=padding,
            dilation_rate=layer.dilation_rate,
            data_format="channels_last",
        )

    return channels_last_apply(layer, inputs, convolve)


@keras.saving.register_keras_serializable(package="translator")
class Conv1DChannelsFirst(keras.layers.Conv1D):
    """Keras Conv1D with data_format channels_first that runs on any CPU build of TF."""

    def call(self, inputs: Any) -> Any:
        return channels_last_call(self, inputs)


@keras.saving.register_keras_serializable(package="translator")
class Conv2DChannelsFirst(keras.layers.Conv2D):
    """Keras Conv2D with data_format channels_first that runs on any CPU build of TF."""

    def call(self, inputs: Any) -> Any:
        return channels_last_call(self, inputs)


@keras.saving.register_keras_serializable(package="translator")
class Conv3DChannelsFirst(keras.layers.Conv3D):
    """Keras Conv3D with data_format channels_first that runs on any CPU build of TF."""

    def call(self, inputs: Any) -> Any:
        return channels_last_call(self, inputs)


CONV = {
    ("Conv1D", "channels_last"): keras.layers.Conv1D,
    ("Conv1D", "channels_first"): Conv1DChannelsFirst,
    ("Conv2D", "channels_last"): keras.layers.Conv2D,
    ("Conv2D", "channels_first"): Conv2DChannelsFirst,
    ("Conv3D", "channels_last"): keras.layers.Conv3D,
    ("Conv3D", "channels_first"): Conv3DChannelsFirst,
}


@BUILDERS.register("Conv1D", "Conv2D", "Conv3D")
def build_conv(node: Node) -> Any:
    """ConvND(filters, kernel_size, strides=1, padding="valid", data_format, dilation_rate=1,
    groups=1, activation=None, use_bias=True)."""
    a = node.args
    layer_class = CONV[(node.type, a["data_format"])]
    return layer_class(**keras_args(node, activation=activation(a["activation"])))
