"""Depthwise and separable convolutions: DepthwiseConv1D/2D and SeparableConv1D/2D.

A depthwise convolution is ONNX's grouped Conv with one group per input channel: W is
(channels·multiplier, 1, *kernel), output channel ``c·multiplier + m`` being Keras's kernel
``[..., c, m]``, the order TensorFlow's depthwise convolution emits. A separable convolution
is that depthwise Conv (strides, dilation and padding, no bias) followed by a 1×1 pointwise
Conv that carries the bias, as Keras computes it.
"""

from __future__ import annotations

from backends.onnx import activation
from backends.onnx.conv import convolve, to_channels_first, to_spec_layout
from backends.onnx.model import BUILDERS, Layer
from translator.ops.depthwise import DEPTHWISE, SEPARABLE


def _channels(layer: Layer, rank: int) -> int:
    shape = layer.node.input_shape
    (channels,) = layer.node.known(
        (shape[0] if layer.node.args["data_format"] == "channels_first" else shape[rank],)
    )
    return channels


def _bias(layer: Layer) -> list[str]:
    return [layer.weight("B")] if layer.args["use_bias"] else []


@BUILDERS.register(*DEPTHWISE)
def build_depthwise(layer: Layer, inputs: list[str]) -> list[str]:
    """DepthwiseConv1D/2D(kernel_size, strides=1, padding="valid", depth_multiplier=1,
    data_format, dilation_rate=1, activation=None, use_bias=True)."""
    rank = DEPTHWISE[layer.node.type]
    x = to_channels_first(layer, inputs[0], rank)
    weights = [layer.weight("W"), *_bias(layer)]
    y = convolve(layer, x, weights, group=_channels(layer, rank))
    return [activation.apply(layer, to_spec_layout(layer, y, rank), layer.args["activation"])]


@BUILDERS.register(*SEPARABLE)
def build_separable(layer: Layer, inputs: list[str]) -> list[str]:
    """SeparableConv1D/2D(filters, kernel_size, strides=1, padding="valid",
    depth_multiplier=1, data_format, dilation_rate=1, activation=None, use_bias=True)."""
    rank = SEPARABLE[layer.node.type]
    x = to_channels_first(layer, inputs[0], rank)
    depthwise = convolve(layer, x, [layer.weight("depthwise_W")], group=_channels(layer, rank))
    ones = [1] * rank
    y = convolve(
        layer,
        depthwise,
        [layer.weight("pointwise_W"), *_bias(layer)],
        kernel_size=ones,
        strides=ones,
        dilation_rate=ones,
        padding="valid",
    )
    return [activation.apply(layer, to_spec_layout(layer, y, rank), layer.args["activation"])]
