"""Per spec layer type, the constructor call of its standalone module (``EMITTERS``).

An emitter turns an IR node into the ``Call`` that ``network`` writes into the generated
``__init__``: the runtime class (``layers``, ``spatial``, ``resampling``, ``normalization``,
``attention``, ``recurrent``) with plain arguments taken from the IR, the same ones the
PyTorch backend's builder derives from the node. This module holds the registry and the
emitters of the layer families added with the breadth work; ``backends/torch/export.py``
registers the original ones. Not copied into ``model.py``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from backends.torch.standalone.assemble import Call, call
from translator.ir import Node
from translator.ops.activation import prelu_alpha_shape
from translator.ops.attention import mha_dims, roles, torch_native
from translator.ops.conv import split_channels
from translator.ops.conv_transpose import TRANSPOSES
from translator.ops.depthwise import DEPTHWISE, SEPARABLE
from translator.ops.normalization import normalized_axes
from translator.registry import Registry

Emitter = Callable[[Node], Call]
EMITTERS: Registry[Emitter] = Registry("standalone PyTorch emitter")
WINDOW = ("kernel_size", "strides", "padding", "data_format", "dilation_rate")


def arguments(node: Node, *names: str) -> dict[str, Any]:
    """The node's arguments ``names``, as keyword arguments of the same names."""
    return {name: node.args[name] for name in names}


def channels(node: Node) -> int | None:
    """The input's channel count for the node's data_format."""
    return split_channels(node, len(node.args["kernel_size"]))[1]


def trailing_axes(node: Node) -> tuple[tuple[int, ...], dict[str, Any]]:
    """A trailing-axes norm's normalized shape, and its ``axes`` and ``rank`` arguments
    (counting the batch axis)."""
    axes = normalized_axes(node)
    shape = tuple(node.input_shape[i] for i in axes)
    where = {"axes": tuple(i + 1 for i in axes), "rank": len(node.input_shape) + 1}
    return shape, where


@EMITTERS.register(*TRANSPOSES)
def _transpose(node: Node) -> Call:
    more = ("output_padding", "activation", "use_bias")
    return call(node.type, channels(node), node.args["filters"], **arguments(node, *WINDOW, *more))


@EMITTERS.register(*DEPTHWISE)
def _depthwise(node: Node) -> Call:
    more = ("depth_multiplier", "activation", "use_bias")
    return call(node.type, channels(node), **arguments(node, *WINDOW, *more))


@EMITTERS.register(*SEPARABLE)
def _separable(node: Node) -> Call:
    more = ("depth_multiplier", "activation", "use_bias")
    args = arguments(node, *WINDOW, *more)
    return call("SeparableConv", channels(node), node.args["filters"], **args)


@EMITTERS.register("ZeroPadding1D", "ZeroPadding2D", "ZeroPadding3D")
def _zero_padding(node: Node) -> Call:
    return call("ZeroPadding", **arguments(node, "padding", "data_format"))


@EMITTERS.register("Cropping1D", "Cropping2D")
def _cropping(node: Node) -> Call:
    # Cropping1D has no data_format: it always crops the steps (axis 1).
    layout = arguments(node, "data_format") if "data_format" in node.args else {}
    return call("Cropping", node.args["cropping"], **layout)


@EMITTERS.register("UpSampling1D")
def _upsampling1d(node: Node) -> Call:
    return call("Repeat", (node.args["size"],), (1,))


@EMITTERS.register("UpSampling2D")
def _upsampling2d(node: Node) -> Call:
    a = node.args
    factors = tuple(a["size"])
    if a["interpolation"] == "bilinear":
        return call("BilinearUpSampling2D", factors, a["data_format"])
    first = 2 if a["data_format"] == "channels_first" else 1
    return call("Repeat", factors, (first, first + 1))


@EMITTERS.register("RepeatVector")
def _repeat_vector(node: Node) -> Call:
    return call("RepeatVector", node.args["n"])


@EMITTERS.register("ELU")
def _elu(node: Node) -> Call:
    return call("nn.ELU", node.args["alpha"])


@EMITTERS.register("PReLU")
def _prelu(node: Node) -> Call:
    return call("PReLU", prelu_alpha_shape(node))


@EMITTERS.register("Multiply", "Subtract", "Average", "Maximum", "Minimum")
def _elementwise(node: Node) -> Call:
    return call("Elementwise", node.type)


@EMITTERS.register("GroupNormalization")
def _group_norm(node: Node) -> Call:
    (index,) = normalized_axes(node)
    more = arguments(node, "epsilon", "center", "scale")
    size = node.input_shape[index]
    return call("GroupNormalization", node.args["groups"], size, axis=index + 1, **more)


@EMITTERS.register("RMSNormalization")
def _rms_norm(node: Node) -> Call:
    shape, where = trailing_axes(node)
    return call("RMSNormalization", shape, **where, epsilon=node.args["epsilon"])


@EMITTERS.register("UnitNormalization")
def _unit_norm(node: Node) -> Call:
    return call("UnitNormalization", tuple(i + 1 for i in normalized_axes(node)))


@EMITTERS.register("MultiHeadAttention")
def _multi_head_attention(node: Node) -> Call:
    d = mha_dims(node)
    more = arguments(node, "dropout", "use_bias", "causal")
    if torch_native(d):
        sizes = {"kdim": d["dk"], "vdim": d["dv"]}
        return call("NativeMultiHeadAttention", d["dq"], d["h"], **sizes, **more)
    features = (d["dq"], d["dv"], d["dk"])
    sizes = {"key_dim": d["kd"], "value_dim": d["vd"], "output_shape": d["out"]}
    return call("MultiHeadAttention", features, d["h"], **sizes, **more)


@EMITTERS.register("GroupQueryAttention")
def _group_query_attention(node: Node) -> Call:
    features = tuple(shape[1] for shape in roles(node))  # query, value, key
    heads = ("head_dim", "num_query_heads", "num_key_value_heads")
    more = ("dropout", "use_bias", "causal")
    return call("GroupQueryAttention", features, **arguments(node, *heads, *more))


@EMITTERS.register("PositionEmbedding")
def _position_embedding(node: Node) -> Call:
    return call("PositionEmbedding", node.args["sequence_length"], node.input_shape[1])
