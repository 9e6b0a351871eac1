"""Depthwise and separable convolutions: DepthwiseConv1D/2D, SeparableConv1D/2D.

A depthwise convolution is a grouped convolution with one group per input channel (PyTorch
``Conv2d(groups=in)``, ONNX ``Conv(group=in)``). A separable convolution is a depthwise one
(no bias) followed by a 1×1 pointwise one with the bias; PyTorch and ONNX have no single layer
for it, so they hold it as those two convolutions, with the same tensors and counts.
"""

from __future__ import annotations

from translator.ir import Node, Shape, WeightSpec
from translator.ir.registries import conversions, formula_rule, shape_rule, weight_rule
from translator.ops.conv import (
    PADDING,
    data_format_arg,
    join_channels,
    kernel_words,
    split_channels,
    strided_dims,
)
from translator.spec.schema import (
    ACTIVATION,
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
from translator.weights.transforms import Chain, Map, Reshape, Transpose

DEPTHWISE = {"DepthwiseConv1D": 1, "DepthwiseConv2D": 2}
SEPARABLE = {"SeparableConv1D": 1, "SeparableConv2D": 2}


def _common(rank: int) -> tuple[Arg, ...]:
    paddings = ("valid", "same")  # Keras refuses causal padding for these
    return (
        Arg("kernel_size", Ints(rank), REQUIRED, "window size per spatial axis"),
        Arg("strides", Ints(rank), 1, "step per spatial axis"),
        Arg(
            "padding", Choice(paddings), "valid", "valid: none; same: output = ceil(input / stride)"
        ),
        Arg("depth_multiplier", Int(), 1, "depthwise output channels per input channel"),
        data_format_arg(),
        Arg("dilation_rate", Ints(rank), 1, "spacing between kernel taps"),
        Arg("activation", ACTIVATION, None, "activation applied to the output (null: linear)"),
        Arg("use_bias", Bool(), True, "add a bias vector"),
    )


for _type, _rank in DEPTHWISE.items():
    layer_schema(
        _type,
        "depthwise",
        f"{_rank}-D depthwise convolution: one filter set per channel.",
        *_common(_rank),
        image_axes=image_axes(_rank),
    )
for _type, _rank in SEPARABLE.items():
    layer_schema(
        _type,
        "depthwise",
        f"{_rank}-D separable convolution: depthwise, then a pointwise (1×1) convolution.",
        Arg("filters", Int(), REQUIRED, "output channels"),
        *_common(_rank),
        image_axes=image_axes(_rank),
    )


def _channels(node: Node, rank: int) -> int:
    _, channels = split_channels(node, rank)
    if channels is None:
        raise node.shape_error("the channel axis must have a known size", "give it a size")
    return channels


@shape_rule(*DEPTHWISE, *SEPARABLE)
def depthwise_shape(node: Node) -> tuple[Shape, ...]:
    rank = {**DEPTHWISE, **SEPARABLE}[node.type]
    c = _channels(node, rank)
    out = node.args.get("filters") or c * node.args["depth_multiplier"]
    return (join_channels(node, strided_dims(node, rank), out),)


@weight_rule(*DEPTHWISE)
def depthwise_weights(node: Node) -> dict[str, tuple[WeightSpec, ...]]:
    rank = DEPTHWISE[node.type]
    c, m, k = _channels(node, rank), node.args["depth_multiplier"], tuple(node.args["kernel_size"])
    bias = node.args["use_bias"]
    return {
        "keras": (WeightSpec("kernel", (*k, c, m), "kernel"),)
        + ((WeightSpec("bias", (c * m,), "bias"),) if bias else ()),
        "torch": (WeightSpec("weight", (c * m, 1, *k), "kernel"),)
        + ((WeightSpec("bias", (c * m,), "bias"),) if bias else ()),
        "onnx": (WeightSpec("W", (c * m, 1, *k), "kernel"),)
        + ((WeightSpec("B", (c * m,), "bias"),) if bias else ()),
    }


@weight_rule(*SEPARABLE)
def separable_weights(node: Node) -> dict[str, tuple[WeightSpec, ...]]:
    rank = SEPARABLE[node.type]
    c, m, k = _channels(node, rank), node.args["depth_multiplier"], tuple(node.args["kernel_size"])
    f, ones = node.args["filters"], (1,) * rank
    bias = node.args["use_bias"]
    return {
        "keras": (
            WeightSpec("depthwise_kernel", (*k, c, m), "depthwise_kernel"),
            WeightSpec("pointwise_kernel", (*ones, c * m, f), "pointwise_kernel"),
        )
        + ((WeightSpec("bias", (f,), "bias"),) if bias else ()),
        "torch": (
            WeightSpec("0.weight", (c * m, 1, *k), "depthwise_kernel"),
            WeightSpec("1.weight", (f, c * m, *ones), "pointwise_kernel"),
        )
        + ((WeightSpec("1.bias", (f,), "bias"),) if bias else ()),
        "onnx": (
            WeightSpec("depthwise_W", (c * m, 1, *k), "depthwise_kernel"),
            WeightSpec("pointwise_W", (f, c * m, *ones), "pointwise_kernel"),
        )
        + ((WeightSpec("B", (f,), "bias"),) if bias else ()),
    }


def depthwise_kernel(shape: tuple[int, ...]) -> Map:
    """Keras's (*window, c, m) → PyTorch's and ONNX's (c·m, 1, *window): output channel
    ``i·m + j`` is input channel ``i``'s ``j``-th filter, the row-major merge of (c, m)."""
    *window, c, m = shape
    rank = len(window)
    return Chain(
        (
            Reshape((*window, c * m), shape),
            Transpose((rank, *range(rank))),
            Reshape((c * m, 1, *window), (c * m, *window)),
        )
    )


@weight_map(*DEPTHWISE)
def depthwise_map(node: Node) -> LayerMap:
    """One filter set per input channel: a grouped convolution (groups = channels) in
    PyTorch and ONNX, whose kernel has one input channel per group."""
    kernel = depthwise_kernel(next(w.shape for w in node.weights["keras"] if w.name == "kernel"))
    return simple_map(
        node,
        {
            "keras": (e("kernel", "kernel"), e("bias", "bias")),
            "torch": (e("weight", "kernel", via=kernel), e("bias", "bias")),
            "onnx": (e("W", "kernel", via=kernel), e("B", "bias")),
        },
    )


@weight_map(*SEPARABLE)
def separable_map(node: Node) -> LayerMap:
    """A depthwise kernel (as ``depthwise_map``'s) then a 1×1 pointwise one (as a forward
    convolution's); the bias belongs to the pointwise convolution."""
    rank = SEPARABLE[node.type]
    keras = {w.name: w.shape for w in node.weights["keras"]}
    depthwise = depthwise_kernel(keras["depthwise_kernel"])
    pointwise = Transpose((rank + 1, rank, *range(rank)))
    return simple_map(
        node,
        {
            "keras": tuple(e(r, r) for r in ("depthwise_kernel", "pointwise_kernel", "bias")),
            "torch": (
                e("0.weight", "depthwise_kernel", via=depthwise),
                e("1.weight", "pointwise_kernel", via=pointwise),
                e("1.bias", "bias"),
            ),
            "onnx": (
                e("depthwise_W", "depthwise_kernel", via=depthwise),
                e("pointwise_W", "pointwise_kernel", via=pointwise),
                e("B", "bias"),
            ),
        },
    )


def _depthwise_words(node: Node) -> str:
    """``3 × 3 kernel × 32 channels × 1 multiplier``, from Keras's (*window, c, m) kernel."""
    *_, c, m = node.weights["keras"][0].shape
    return f"{kernel_words(node)} × {c} channels × {m} multiplier"


@formula_rule(*DEPTHWISE)
def depthwise_formula(node: Node) -> str:
    if not node.args["use_bias"]:
        return _depthwise_words(node)
    *_, c, m = node.weights["keras"][0].shape
    return f"({kernel_words(node)} + 1 bias) × {c} channels × {m} multiplier"


@formula_rule(*SEPARABLE)
def separable_formula(node: Node) -> str:
    """The depthwise kernel, then the pointwise one that carries the biases."""
    *_, c, m = node.weights["keras"][0].shape
    bias = " + 1 bias" if node.args["use_bias"] else ""
    pointwise = f"({c * m} depthwise outputs{bias}) × {node.args['filters']} filters"
    return f"{_depthwise_words(node)} + {pointwise}"


conversions(*DEPTHWISE, *SEPARABLE, padding=PADDING.get)
