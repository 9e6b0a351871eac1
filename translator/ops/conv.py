"""Convolutions: Conv1D, Conv2D and Conv3D (strides, dilation, groups, valid/same/causal).

Also home of the spatial-size arithmetic that pooling, transposed, depthwise and separable
convolutions share.
"""

from __future__ import annotations

from translator.ir import Node, Shape, WeightSpec
from translator.ir.registries import conversions, formula_rule, shape_rule, weight_rule
from translator.spec.schema import (
    ACTIVATION,
    FROM_SPEC,
    REQUIRED,
    Arg,
    Bool,
    Choice,
    Int,
    Ints,
    image_axes,
    layer_schema,
)
from translator.weights.maps import LayerMap, e, simple_map, weight_map
from translator.weights.transforms import Transpose

DATA_FORMAT = Choice(("channels_last", "channels_first"))


def data_format_arg() -> Arg:
    return Arg("data_format", DATA_FORMAT, FROM_SPEC, "layout of the input (default: the spec's)")


def _conv_schema(type_: str, rank: int, paddings: tuple[str, ...]) -> None:
    layer_schema(
        type_,
        "conv",
        f"{rank}-D convolution: `activation(conv(x, kernel) + bias)`.",
        Arg("filters", Int(), REQUIRED, "output channels"),
        Arg("kernel_size", Ints(rank), REQUIRED, "window size per spatial axis"),
        Arg("strides", Ints(rank), 1, "step per spatial axis"),
        Arg(
            "padding", Choice(paddings), "valid", "valid: none; same: output = ceil(input / stride)"
        ),
        data_format_arg(),
        Arg("dilation_rate", Ints(rank), 1, "spacing between kernel taps"),
        Arg("groups", Int(), 1, "channel groups; filters and input channels must divide by it"),
        Arg("activation", ACTIVATION, None, "activation applied to the output (null: linear)"),
        Arg("use_bias", Bool(), True, "add a bias vector"),
        image_axes=image_axes(rank),
        aliases=ALIASES.get(type_, ()),
    )


ALIASES = {"Conv1D": ("Conv1d",), "Conv2D": ("Conv2d",)}


CONVS = {"Conv1D": 1, "Conv2D": 2, "Conv3D": 3}
for _type, _rank in CONVS.items():
    _conv_schema(_type, _rank, ("valid", "same", "causal") if _rank == 1 else ("valid", "same"))


def split_channels(node: Node, rank: int) -> tuple[tuple[int | None, ...], int | None]:
    """(spatial dims, channels) of the node's input for its data_format."""
    shape = node.input_shape
    if len(shape) != rank + 1:
        raise node.shape_error(
            f"expects a rank-{rank + 2} input (batch, {rank} spatial axes, channels)",
            "add a Reshape, or check the input's shape",
        )
    if node.args["data_format"] == "channels_first":
        return shape[1:], shape[0]
    return shape[:-1], shape[-1]


def join_channels(node: Node, spatial: tuple[int | None, ...], channels: int | None) -> Shape:
    if node.args["data_format"] == "channels_first":
        return (channels, *spatial)
    return (*spatial, channels)


def out_size(
    node: Node, size: int | None, kernel: int, stride: int, dilation: int, padding: str
) -> int | None:
    """Output length of one spatial axis, exactly as Keras computes it."""
    if size is None:
        return None
    if padding in ("same", "causal"):
        return -(-size // stride)
    span = dilation * (kernel - 1) + 1
    if span > size:
        raise node.shape_error(
            f"the window ({span}) is larger than the input ({size}) with padding 'valid'",
            "use padding: same, a smaller kernel_size, or a larger input",
        )
    return (size - span) // stride + 1


def conv_channels(node: Node, rank: int) -> int:
    _, channels = split_channels(node, rank)
    groups = node.args["groups"]
    if channels is None:
        raise node.shape_error("the channel axis must have a known size", "give it a size")
    if channels % groups or node.args["filters"] % groups:
        raise node.shape_error(
            f"groups={groups} must divide both input channels ({channels}) and"
            f" filters ({node.args['filters']})",
            "choose groups that divides both",
        )
    return channels


def strided_dims(node: Node, rank: int) -> tuple[int | None, ...]:
    """Output spatial sizes of a (depthwise/separable) convolution, as Keras computes them."""
    spatial, _ = split_channels(node, rank)
    a = node.args
    if any(s > 1 for s in a["strides"]) and any(d > 1 for d in a["dilation_rate"]):
        raise node.shape_error(
            "strides > 1 together with dilation_rate > 1 is not supported by Keras",
            "use strides or dilation_rate, not both",
        )
    return tuple(
        out_size(node, n, k, s, d, a["padding"])
        for n, k, s, d in zip(
            spatial, a["kernel_size"], a["strides"], a["dilation_rate"], strict=True
        )
    )


def _conv_shape(node: Node, rank: int) -> tuple[Shape, ...]:
    conv_channels(node, rank)
    return (join_channels(node, strided_dims(node, rank), node.args["filters"]),)


def _conv_weights(node: Node, rank: int) -> dict[str, tuple[WeightSpec, ...]]:
    a = node.args
    cin = conv_channels(node, rank) // a["groups"]
    k, f = tuple(a["kernel_size"]), a["filters"]
    bias = (WeightSpec("bias", (f,), "bias"),) if a["use_bias"] else ()
    onnx_bias = (WeightSpec("B", (f,), "bias"),) if a["use_bias"] else ()
    return {
        "keras": (WeightSpec("kernel", (*k, cin, f), "kernel"), *bias),
        "torch": (WeightSpec("weight", (f, cin, *k), "kernel"), *bias),
        "onnx": (WeightSpec("W", (f, cin, *k), "kernel"), *onnx_bias),
    }


@shape_rule(*CONVS)
def conv_shape(node: Node) -> tuple[Shape, ...]:
    return _conv_shape(node, CONVS[node.type])


@weight_rule(*CONVS)
def conv_weights(node: Node) -> dict[str, tuple[WeightSpec, ...]]:
    return _conv_weights(node, CONVS[node.type])


@weight_map(*CONVS)
def conv_map(node: Node) -> LayerMap:
    """Keras's kernel is (*window, in, out); PyTorch's and ONNX's (out, in, *window)."""
    rank = len(node.args["kernel_size"])
    oihw = Transpose((rank + 1, rank, *range(rank)))
    return simple_map(
        node,
        {
            "keras": (e("kernel", "kernel"), e("bias", "bias")),
            "torch": (e("weight", "kernel", via=oihw), e("bias", "bias")),
            "onnx": (e("W", "kernel", via=oihw), e("B", "bias")),
        },
    )


def kernel_words(node: Node) -> str:
    """The window as a formula prints it: ``3 × 3 kernel``."""
    return " × ".join(str(k) for k in node.args["kernel_size"]) + " kernel"


@formula_rule(*CONVS)
def conv_formula(node: Node) -> str:
    kernel = kernel_words(node)
    cin = next(w.shape[-2] for w in node.weights["keras"] if w.role == "kernel")
    groups = f" (input channels / {node.args['groups']} groups)" if node.args["groups"] > 1 else ""
    bias = " + 1 bias" if node.args["use_bias"] else ""
    return f"({kernel} × {cin} input channels{groups}{bias}) × {node.args['filters']} filters"


# What padding becomes in PyTorch and ONNX, as ``port`` names it (depthwise and separable
# convolutions share it).
PADDING = {
    "same": "padding same → explicit pads in PyTorch and ONNX, any odd one at the end as"
    " TensorFlow puts it",
    "causal": "padding causal → dilation·(kernel − 1) zeros before the sequence",
}
conversions(*CONVS, padding=PADDING.get)
