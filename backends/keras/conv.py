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
from dataclasses import replace
from typing import Any

import keras

from backends.keras.activation import activation
from backends.keras.importing import IMPORTERS, by_schema
from backends.keras.model import (
    BUILDERS,
    EXPORT_REWRITES,
    NAME,
    Apply,
    build_layer,
    chain,
    keras_args,
)
from translator.ir import Graph, Node
from translator.ir.layout import fresh_name, same_pads


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


# --- export: channels_first (and unevenly strided) convolutions as built-in layers ---------


def uneven_strides(conv: Node) -> bool:
    """Unequal strides (a depthwise or separable convolution rewritten for export)."""
    return len(set(conv.args["strides"])) > 1


def _plain(node: Node, conv: Node, uneven: bool) -> Node:
    """``node`` with its convolution channels_last, without activation when channels_first
    (it comes after the permute back) and at stride 1 without padding when uneven."""
    args = {**conv.args, "data_format": "channels_last"}
    if conv.args["data_format"] == "channels_first":
        args["activation"] = None
    if uneven:
        args.update(strides=(1,) * len(args["strides"]), padding="valid")
    plain = replace(conv, args=args)
    return plain if conv is node else replace(node, args={**node.args, "layer": plain})


def _step(graph: Graph, node: Node, role: str, layer_class: Any, *args: Any) -> Any:
    """A channels_last step of ``node``'s rewrite, in a TimeDistributed when ``node`` is one."""
    name = fresh_name(graph, f"{node.name}__{role}")
    wrapped = node.inner is not None
    layer = layer_class(*args, data_format="channels_last", name=name + "_inner" * wrapped)
    return keras.layers.TimeDistributed(layer, name=name) if wrapped else layer


def _permutes(graph: Graph, node: Node, conv: Node) -> tuple[Any, Any]:
    """Permute layers to channels_last before the convolution and back after it."""
    rank = len(node.input_shape)  # per example
    channels = rank - len(conv.args["kernel_size"])  # the channel axis, counted from 1
    to_last = (*(i for i in range(1, rank + 1) if i != channels), channels)
    back = tuple(to_last.index(i) + 1 for i in range(1, rank + 1))
    return (
        keras.layers.Permute(to_last, name=fresh_name(graph, f"{node.name}__last")),
        keras.layers.Permute(back, name=fresh_name(graph, f"{node.name}__first")),
    )


def _conv_steps(graph: Graph, node: Node, conv: Node, uneven: bool) -> tuple[list[Any], list[Any]]:
    """The built-in layers before and after the convolution, channels_last inside."""
    before, after = [], []
    if conv.args["data_format"] == "channels_first":
        to_last, back = _permutes(graph, node, conv)
        before.append(to_last)
        after.append(back)
    if uneven:
        if conv.args["padding"] == "same":
            pads = same_pads(conv, NAME)
            before.append(_step(graph, node, "pad", keras.layers.ZeroPadding2D, pads))
        pool = _step(graph, node, "strides", keras.layers.MaxPooling2D, 1, conv.args["strides"])
        after.insert(0, pool)
    function = activation(conv.args["activation"])
    if function is not None and conv.args["data_format"] == "channels_first":
        name = fresh_name(graph, f"{node.name}__activation")
        after.append(keras.layers.Activation(function, name=name))
    return before, after


def export_convolution(
    graph: Graph,
    node: Node,
    conv: Node,
    uneven: bool = False,
    make: Callable[[Node], Any] = build_layer,
) -> tuple[Any, Apply]:
    """The convolution ``conv`` (``node`` or the layer it wraps) as a built-in layer, made
    by ``make`` from the channels_last node, and the built-in steps around it."""
    layer = make(_plain(node, conv, uneven))
    before, after = _conv_steps(graph, node, conv, uneven)
    return layer, chain([*before, layer, *after])


@EXPORT_REWRITES.register("Conv1D", "Conv2D", "Conv3D")
def export_conv(graph: Graph, node: Node, conv: Node, layers: dict[str, Any]) -> Any:
    """A channels_first convolution: the channels_last layer between ``Permute`` layers,
    its activation after them."""
    if conv.args["data_format"] != "channels_first":
        return None
    return export_convolution(graph, node, conv)


IMPORTERS.register("Conv1D", "Conv2D", "Conv3D")(by_schema)  # Keras's classes, same arguments
