"""Transposed convolutions: Conv1DTranspose, Conv2DTranspose, Conv3DTranspose.

Keras keeps the kernel as (*kernel, filters, in_channels); PyTorch's ConvTranspose and ONNX's
ConvTranspose keep (in_channels, filters, *kernel). No flip is needed when porting.
"""

from __future__ import annotations

from translator.ir import Node, Shape, WeightSpec
from translator.ir.registries import conversions, formula_rule, shape_rule, weight_rule
from translator.ops.conv import (
    conv_map,
    data_format_arg,
    join_channels,
    kernel_words,
    split_channels,
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
from translator.weights.maps import LayerMap, weight_map

TRANSPOSES = {"Conv1DTranspose": 1, "Conv2DTranspose": 2, "Conv3DTranspose": 3}

for _type, _rank in TRANSPOSES.items():
    layer_schema(
        _type,
        "conv_transpose",
        f"{_rank}-D transposed convolution (a learned upsampling), `activation(x ⋆ kernel + bias)`.",
        Arg("filters", Int(), REQUIRED, "output channels"),
        Arg("kernel_size", Ints(_rank), REQUIRED, "window size per spatial axis"),
        Arg("strides", Ints(_rank), 1, "upsampling factor per spatial axis"),
        Arg(
            "padding", Choice(("valid", "same")), "valid", "valid: output = (n-1)·s + k; same: n·s"
        ),
        Arg("output_padding", Ints(_rank, min=0), None, "extra size at the end (null: Keras's)"),
        data_format_arg(),
        Arg("dilation_rate", Ints(_rank), 1, "spacing between kernel taps"),
        Arg("activation", ACTIVATION, None, "activation applied to the output (null: linear)"),
        Arg("use_bias", Bool(), True, "add a bias vector"),
        image_axes=image_axes(_rank),
    )


def transposed_size(
    n: int | None, k: int, s: int, d: int, padding: str, output_padding: int | None
) -> int | None:
    """Keras's ``compute_conv_transpose_output_length`` for one axis."""
    if n is None:
        return None
    k = k + (k - 1) * (d - 1)
    if output_padding is None:
        return n * s + max(k - s, 0) if padding == "valid" else n * s
    pad = k // 2 if padding == "same" else 0
    return (n - 1) * s + k - 2 * pad + output_padding


@shape_rule(*TRANSPOSES)
def transpose_shape(node: Node) -> tuple[Shape, ...]:
    rank = TRANSPOSES[node.type]
    spatial, channels = split_channels(node, rank)
    if channels is None:
        raise node.shape_error("the channel axis must have a known size", "give it a size")
    a = node.args
    pads = a["output_padding"] or (None,) * rank
    for p, s in zip(pads, a["strides"], strict=True):
        if p is not None and p >= s:
            raise node.shape_error(f"output_padding {p} must be smaller than the stride {s}", "")
    dims = tuple(
        transposed_size(n, k, s, d, a["padding"], p)
        for n, k, s, d, p in zip(
            spatial, a["kernel_size"], a["strides"], a["dilation_rate"], pads, strict=True
        )
    )
    for n, out, k, s, d in zip(
        spatial, dims, a["kernel_size"], a["strides"], a["dilation_rate"], strict=True
    ):
        if n is not None and out is not None and _forward_size(out, k, s, d, a["padding"]) != n:
            # TensorFlow refuses an output whose forward convolution would not give the input.
            raise node.shape_error(
                f"output size {out} does not convolve back to the input size {n}",
                "choose another output_padding (or none)",
            )
    return (join_channels(node, dims, a["filters"]),)


def _forward_size(n: int, k: int, s: int, d: int, padding: str) -> int:
    """The size a forward convolution gives for input size ``n``."""
    if padding == "same":
        return -(-n // s)
    return (n - (d * (k - 1) + 1)) // s + 1


@weight_rule(*TRANSPOSES)
def transpose_weights(node: Node) -> dict[str, tuple[WeightSpec, ...]]:
    rank = TRANSPOSES[node.type]
    _, channels = split_channels(node, rank)
    (cin,) = node.known((channels,))
    k, f = tuple(node.args["kernel_size"]), node.args["filters"]
    use_bias = node.args["use_bias"]
    return {
        "keras": (WeightSpec("kernel", (*k, f, cin), "kernel"),)
        + ((WeightSpec("bias", (f,), "bias"),) if use_bias else ()),
        "torch": (WeightSpec("weight", (cin, f, *k), "kernel"),)
        + ((WeightSpec("bias", (f,), "bias"),) if use_bias else ()),
        "onnx": (WeightSpec("W", (cin, f, *k), "kernel"),)
        + ((WeightSpec("B", (f,), "bias"),) if use_bias else ()),
    }


@weight_map(*TRANSPOSES)
def conv_transpose_map(node: Node) -> LayerMap:
    """Keras's (*window, out, in) → PyTorch's and ONNX's (in, out, *window): the axes move as
    a forward convolution's do (the last two to the front, swapped). No flip: the three
    frameworks scatter the same, unflipped kernel."""
    return conv_map(node)


@formula_rule(*TRANSPOSES)
def conv_transpose_formula(node: Node) -> str:
    """Keras's kernel is (*window, filters, in): one window per input and output channel."""
    cin = node.weights["keras"][0].shape[-1]
    bias = " + 1 bias" if node.args["use_bias"] else ""
    return f"({kernel_words(node)} × {cin} input channels{bias}) × {node.args['filters']} filters"


conversions(
    *TRANSPOSES,
    padding={
        "valid": "output size as Keras computes it; PyTorch and ONNX crop or zero-extend the"
        " full transposed convolution to it, as TensorFlow does",
        "same": "padding same → output n·s as Keras computes it; PyTorch and ONNX crop the full"
        " transposed convolution from TensorFlow's leading padding on",
    }.get,
)
