"""Transposed convolutions: Conv1DTranspose, Conv2DTranspose, Conv3DTranspose.

Keras's own layers, with ``output_padding`` null meaning Keras's default output size
(``(n − 1)·s + max(k, s)`` for valid, ``n·s`` for same).

TensorFlow's CPU kernels for a transposed convolution (``Conv2DBackpropInput``) take neither
the channels_first layout nor dilation rates above 1 unless TF runs with oneDNN. Layers that
need either are Keras's classes whose ``call`` computes the same thing portably: transpose
to channels_last, and run ``keras.ops.conv_transpose`` at dilation 1 with the kernel dilated
by hand (zeros between the taps, which is what a dilation rate means), then add the bias,
transpose back and apply the activation, in Keras's order. The variables are Keras's,
``kernel`` keeps Keras's ``(*kernel, filters, in)`` shape, and Keras's output-size rule sees
the same effective kernel size ``(k − 1)·d + 1``.
"""

from __future__ import annotations

from typing import Any

import keras

from backends.keras.activation import activation
from backends.keras.conv import channels_last_apply, export_convolution
from backends.keras.importing import IMPORTERS, by_schema
from backends.keras.model import BUILDERS, EXPORT_REWRITES, keras_args
from translator.ir import Graph, Node


def dilate_axis(kernel: Any, axis: int, rate: int) -> Any:
    """``kernel`` with ``rate − 1`` zeros between neighbouring taps along ``axis``."""
    if rate == 1:
        return kernel
    taps = kernel.shape[axis]
    spread = keras.ops.stack([kernel] + [keras.ops.zeros_like(kernel)] * (rate - 1), axis + 1)
    shape = list(kernel.shape)
    shape[axis] = taps * rate
    spread = keras.ops.reshape(spread, shape)
    shape[axis] = (taps - 1) * rate + 1  # drop the zeros after the last tap
    return keras.ops.slice(spread, [0] * len(shape), shape)


def dilated_kernel(layer: Any) -> Any:
    """The layer's kernel with its dilation rate written into it (spatial axes lead)."""
    kernel = keras.ops.convert_to_tensor(layer.kernel)
    for axis, rate in enumerate(layer.dilation_rate):
        kernel = dilate_axis(kernel, axis, rate)
    return kernel


def portable_transpose_call(layer: Any, inputs: Any) -> Any:
    """What Keras's ``call`` computes for ``layer``, on any CPU build of TensorFlow."""

    def convolve(x: Any) -> Any:
        return keras.ops.conv_transpose(
            x,
            dilated_kernel(layer),
            strides=list(layer.strides),
            padding=layer.padding,
            output_padding=layer.output_padding,
            dilation_rate=1,
            data_format="channels_last",
        )

    if layer.data_format == "channels_first":
        return channels_last_apply(layer, inputs, convolve)
    y = convolve(inputs)
    if layer.use_bias:
        y = keras.ops.add(y, layer.bias)
    return layer.activation(y) if layer.activation is not None else y


@keras.saving.register_keras_serializable(package="translator")
class PortableConv1DTranspose(keras.layers.Conv1DTranspose):
    """Keras Conv1DTranspose that runs channels_first or dilated on any CPU build of TF."""

    def call(self, inputs: Any) -> Any:
        return portable_transpose_call(self, inputs)


@keras.saving.register_keras_serializable(package="translator")
class PortableConv2DTranspose(keras.layers.Conv2DTranspose):
    """Keras Conv2DTranspose that runs channels_first or dilated on any CPU build of TF."""

    def call(self, inputs: Any) -> Any:
        return portable_transpose_call(self, inputs)


@keras.saving.register_keras_serializable(package="translator")
class PortableConv3DTranspose(keras.layers.Conv3DTranspose):
    """Keras Conv3DTranspose that runs channels_first or dilated on any CPU build of TF."""

    def call(self, inputs: Any) -> Any:
        return portable_transpose_call(self, inputs)


# (type, whether TF's own CPU kernel can run it) → the layer class.
TRANSPOSES = {
    ("Conv1DTranspose", True): keras.layers.Conv1DTranspose,
    ("Conv1DTranspose", False): PortableConv1DTranspose,
    ("Conv2DTranspose", True): keras.layers.Conv2DTranspose,
    ("Conv2DTranspose", False): PortableConv2DTranspose,
    ("Conv3DTranspose", True): keras.layers.Conv3DTranspose,
    ("Conv3DTranspose", False): PortableConv3DTranspose,
}


@BUILDERS.register("Conv1DTranspose", "Conv2DTranspose", "Conv3DTranspose")
def build_conv_transpose(node: Node) -> Any:
    """ConvNDTranspose(filters, kernel_size, strides=1, padding="valid", output_padding=None,
    data_format, dilation_rate=1, activation=None, use_bias=True)."""
    a = node.args
    native = a["data_format"] == "channels_last" and all(d == 1 for d in a["dilation_rate"])
    layer_class = TRANSPOSES[(node.type, native)]
    return layer_class(**keras_args(node, activation=activation(a["activation"])))


@EXPORT_REWRITES.register("Conv1DTranspose", "Conv2DTranspose", "Conv3DTranspose")
def export_conv_transpose(graph: Graph, node: Node, conv: Node, layers: dict[str, Any]) -> Any:
    """Keras's own class, not the backend's portable one (which Keras alone cannot load)."""

    def keras_layer(plain: Node) -> Any:
        target = plain.inner or plain
        keras_class = TRANSPOSES[(conv.type, True)]
        layer = keras_class(**keras_args(target, activation=activation(target.args["activation"])))
        return keras.layers.TimeDistributed(layer, name=node.name) if node.inner else layer

    return export_convolution(graph, node, conv, make=keras_layer)


IMPORTERS.register("Conv1DTranspose", "Conv2DTranspose", "Conv3DTranspose")(
    by_schema
)  # Keras's classes, same arguments
