"""Depthwise and separable convolutions: DepthwiseConv1D/2D and SeparableConv1D/2D.

Keras's own layers, with Keras's kernels: depthwise ``(*kernel, in, multiplier)`` (output
channel ``c·multiplier + m``) and pointwise ``(1.., in·multiplier, filters)``. Two cases run
as Keras's classes with a ``call`` that computes the same thing in channels_last:

- channels_first. Keras adds the bias with ``keras.ops.add(y, reshape(bias, (1, C, 1..)))``,
  and Keras 3.15's TF ``add`` turns any "looks like a bias" add into ``tf.nn.bias_add``,
  choosing NHWC whenever the last axis has C entries: a channels_first output whose last
  spatial size equals its channel count gets the bias along the wrong axis. Computing in
  channels_last (as the plain convolutions here do) adds it where Keras means it.
- Unequal strides in 2-D. TensorFlow's depthwise kernel (``DepthwiseConv2dNative``) refuses
  them ("only supports equal length strides"), so Keras on TF cannot run ``strides: [1, 2]``.
  These do what Keras itself does when TF refuses strides together with dilation
  (``_depthwise_conv_stride_dilation_decomposition``): pad as TF's "same" would for those
  strides, convolve at stride 1 and keep every stride-th output.

Either way the variables are Keras's, and bias and activation come in Keras's order.
"""

from __future__ import annotations

from typing import Any

import keras

from backends.keras.activation import activation
from backends.keras.conv import channels_last_apply, export_convolution, uneven_strides
from backends.keras.importing import IMPORTERS, by_schema
from backends.keras.model import BUILDERS, EXPORT_REWRITES, keras_args
from translator.ir import Graph, Node


def same_pads(x: Any, layer: Any) -> list[tuple[Any, Any]]:
    """TF's "same" zeros (before, after) per axis of a channels_last ``x``, the extra one at
    the end. Sizes may be symbolic (a free spatial axis)."""
    pads = [(0, 0)]
    sizes = keras.ops.shape(x)[1:-1]
    for n, k, s, d in zip(
        sizes, layer.kernel_size, layer.strides, layer.dilation_rate, strict=True
    ):
        total = ((n + s - 1) // s - 1) * s + (k - 1) * d + 1 - n
        total = max(total, 0) if isinstance(total, int) else keras.ops.maximum(total, 0)
        pads.append((total // 2, total - total // 2))
    return [*pads, (0, 0)]


def convolve(layer: Any, x: Any) -> Any:
    """Keras's depthwise (then, for a separable layer, pointwise) convolution of a
    channels_last ``x``, without the bias."""
    separable = hasattr(layer, "pointwise_kernel")
    kernel = layer.depthwise_kernel if separable else layer.kernel
    if len(set(layer.strides)) == 1:  # the backend ops Keras's own call uses
        args = (layer.strides, layer.padding, "channels_last", layer.dilation_rate)
        if separable:
            return keras.ops.separable_conv(x, kernel, layer.pointwise_kernel, *args)
        return keras.ops.depthwise_conv(x, kernel, *args)
    # Stride 1 on TF-"same"-padded input, then every stride-th output.
    if layer.padding == "same":
        x = keras.ops.pad(x, same_pads(x, layer))
    y = keras.ops.depthwise_conv(x, kernel, 1, "valid", "channels_last", layer.dilation_rate)
    y = y[(slice(None), *(slice(None, None, s) for s in layer.strides))]
    if separable:
        y = keras.ops.conv(y, layer.pointwise_kernel, 1, "valid", "channels_last")
    return y


def portable_call(layer: Any, inputs: Any) -> Any:
    """What Keras's ``call`` means for ``layer``, computed in channels_last."""
    if layer.data_format == "channels_first":
        return channels_last_apply(layer, inputs, lambda x: convolve(layer, x))
    y = convolve(layer, inputs)
    if layer.use_bias:
        y = keras.ops.add(y, layer.bias)
    return layer.activation(y) if layer.activation is not None else y


@keras.saving.register_keras_serializable(package="translator")
class PortableDepthwiseConv1D(keras.layers.DepthwiseConv1D):
    """Keras DepthwiseConv1D computed in channels_last (see the module docstring)."""

    def call(self, inputs: Any) -> Any:
        return portable_call(self, inputs)


@keras.saving.register_keras_serializable(package="translator")
class PortableDepthwiseConv2D(keras.layers.DepthwiseConv2D):
    """Keras DepthwiseConv2D computed in channels_last (see the module docstring)."""

    def call(self, inputs: Any) -> Any:
        return portable_call(self, inputs)


@keras.saving.register_keras_serializable(package="translator")
class PortableSeparableConv1D(keras.layers.SeparableConv1D):
    """Keras SeparableConv1D computed in channels_last (see the module docstring)."""

    def call(self, inputs: Any) -> Any:
        return portable_call(self, inputs)


@keras.saving.register_keras_serializable(package="translator")
class PortableSeparableConv2D(keras.layers.SeparableConv2D):
    """Keras SeparableConv2D computed in channels_last (see the module docstring)."""

    def call(self, inputs: Any) -> Any:
        return portable_call(self, inputs)


# (type, whether Keras's own call computes it right on TF's CPU kernels) → the layer class.
LAYERS = {
    ("DepthwiseConv1D", True): keras.layers.DepthwiseConv1D,
    ("DepthwiseConv1D", False): PortableDepthwiseConv1D,
    ("DepthwiseConv2D", True): keras.layers.DepthwiseConv2D,
    ("DepthwiseConv2D", False): PortableDepthwiseConv2D,
    ("SeparableConv1D", True): keras.layers.SeparableConv1D,
    ("SeparableConv1D", False): PortableSeparableConv1D,
    ("SeparableConv2D", True): keras.layers.SeparableConv2D,
    ("SeparableConv2D", False): PortableSeparableConv2D,
}


@BUILDERS.register("DepthwiseConv1D", "DepthwiseConv2D", "SeparableConv1D", "SeparableConv2D")
def build_depthwise(node: Node) -> Any:
    """DepthwiseConvND(kernel_size, strides=1, padding="valid", depth_multiplier=1,
    data_format, dilation_rate=1, activation=None, use_bias=True); SeparableConvND takes
    ``filters`` too and holds depthwise_kernel, pointwise_kernel and bias."""
    a = node.args
    native = a["data_format"] == "channels_last" and len(set(a["strides"])) == 1
    layer_class = LAYERS[(node.type, native)]
    return layer_class(**keras_args(node, activation=activation(a["activation"])))


@EXPORT_REWRITES.register(
    "DepthwiseConv1D", "DepthwiseConv2D", "SeparableConv1D", "SeparableConv2D"
)
def export_depthwise(graph: Graph, node: Node, conv: Node, layers: dict[str, Any]) -> Any:
    """channels_first: between ``Permute`` layers; unequal strides: TF's "same"
    ``ZeroPadding2D``, the layer at stride 1, then ``MaxPooling2D`` of size 1 with the
    strides (every stride-th output)."""
    uneven = uneven_strides(conv)
    if conv.args["data_format"] != "channels_first" and not uneven:
        return None
    return export_convolution(graph, node, conv, uneven=uneven)


# Keras's classes of the same names, same arguments.
IMPORTERS.register("DepthwiseConv1D", "DepthwiseConv2D", "SeparableConv1D", "SeparableConv2D")(
    by_schema
)
