"""Reshaping layers: Flatten, Reshape, Permute, zero padding, cropping, upsampling and
RepeatVector. None has weights."""

from __future__ import annotations

import math

from translator.ir import Node, Shape
from translator.ir.placement import flattening, layout_rule
from translator.ir.registries import conversions, no_weights, shape_rule, weight_rule
from translator.ops.conv import data_format_arg, join_channels, split_channels
from translator.spec.schema import (
    REQUIRED,
    Arg,
    Choice,
    Int,
    IntList,
    Ints,
    Padding,
    image_axes,
    layer_schema,
)

layer_schema(
    "Flatten", "reshape", "Flattens each example to one axis, in memory (row-major) order."
)
layer_schema(
    "Reshape",
    "reshape",
    "Reshapes each example; one size may be -1 (inferred).",
    Arg("target_shape", IntList(min=-1), REQUIRED, "the new per-example shape"),
)
layer_schema(
    "Permute",
    "reshape",
    "Permutes the non-batch axes; `dims` is 1-based, as in Keras.",
    Arg("dims", IntList(), REQUIRED, "a permutation of 1..rank"),
)
layer_schema(
    "ZeroPadding2D",
    "reshape",
    "Pads rows and columns of an image with zeros.",
    Arg("padding", Padding(2), 1, "int, [rows, cols], or [[top, bottom], [left, right]]"),
    data_format_arg(),
    image_axes=2,
    aliases=("ZeroPad2d",),
)


@shape_rule("Flatten")
def flatten_shape(node: Node) -> tuple[Shape, ...]:
    if None in node.input_shape:
        raise node.shape_error(
            "every axis must have a known size to flatten", "give each axis a size"
        )
    return ((math.prod(node.known(node.input_shape)),),)


@shape_rule("Reshape")
def reshape_shape(node: Node) -> tuple[Shape, ...]:
    target = list(node.args["target_shape"])
    if None in node.input_shape:
        raise node.shape_error(
            "every axis must have a known size to reshape", "give each axis a size"
        )
    size = math.prod(node.known(node.input_shape))
    if target.count(-1) > 1:
        raise node.shape_error("target_shape has more than one -1", "at most one -1")
    known = math.prod(t for t in target if t != -1)
    if -1 in target:
        if size % known:
            raise node.shape_error(
                f"cannot reshape {size} values into {target}", "sizes must divide"
            )
        target[target.index(-1)] = size // known
    elif known != size:
        raise node.shape_error(
            f"target_shape {target} holds {known} values, the input {size}",
            "the product of target_shape must equal the input's",
        )
    return (tuple(target),)


@shape_rule("Permute")
def permute_shape(node: Node) -> tuple[Shape, ...]:
    dims = node.args["dims"]
    rank = len(node.input_shape)
    if sorted(dims) != list(range(1, rank + 1)):
        raise node.shape_error(
            f"dims {list(dims)} is not a permutation of 1..{rank}",
            f"e.g. {list(range(rank, 0, -1))}",
        )
    return (tuple(node.input_shape[d - 1] for d in dims),)


@shape_rule("ZeroPadding2D")
def zero_padding_shape(node: Node) -> tuple[Shape, ...]:
    spatial, channels = split_channels(node, 2)
    padded = tuple(
        None if n is None else n + before + after
        for n, (before, after) in zip(spatial, node.args["padding"], strict=True)
    )
    return (join_channels(node, padded, channels),)


weight_rule("Flatten", "Reshape", "Permute", "ZeroPadding2D")(no_weights)


# --- padding, cropping and upsampling in 1-D, 2-D and 3-D; RepeatVector --------------------

PADDINGS = {"ZeroPadding1D": 1, "ZeroPadding3D": 3}
CROPPINGS = {"Cropping1D": 1, "Cropping2D": 2}
UPSAMPLINGS = {"UpSampling1D": 1, "UpSampling2D": 2}

for _type, _rank in PADDINGS.items():
    layer_schema(
        _type,
        "reshape",
        f"Pads the {_rank} spatial axes with zeros.",
        Arg("padding", Padding(_rank), 1, "int, one per axis, or [before, after] per axis"),
        data_format_arg(),
        image_axes=image_axes(_rank),
    )
layer_schema(
    "Cropping1D",
    "reshape",
    "Crops time steps at the start and end.",
    Arg("cropping", Padding(1), 1, "int, or [start, end]"),
    image_axes=1,
)
layer_schema(
    "Cropping2D",
    "reshape",
    "Crops rows and columns.",
    Arg("cropping", Padding(2), 0, "int, [rows, cols], or [[top, bottom], [left, right]]"),
    data_format_arg(),
    image_axes=2,
)
layer_schema(
    "UpSampling1D",
    "reshape",
    "Repeats each time step `size` times.",
    Arg("size", Int(), 2, "the repetition factor"),
    image_axes=1,
)
layer_schema(
    "UpSampling2D",
    "reshape",
    "Upsamples rows and columns by `size` (nearest: repeat; bilinear: half-pixel interpolation).",
    Arg("size", Ints(2), 2, "the factor per spatial axis"),
    data_format_arg(),
    Arg("interpolation", Choice(("nearest", "bilinear")), "nearest", "how new pixels are made"),
    image_axes=2,
)
layer_schema(
    "RepeatVector",
    "reshape",
    "Repeats a vector `n` times: (batch, d) → (batch, n, d).",
    Arg("n", Int(), REQUIRED, "number of repetitions"),
)


def _spatial(node: Node, rank: int) -> tuple[tuple[int | None, ...], int | None]:
    """Spatial sizes and channels; 1-D layers always have (steps, features) in Keras."""
    if "data_format" not in node.args:
        if len(node.input_shape) != 2:
            raise node.shape_error("expects (batch, steps, features)", "check the input's shape")
        return node.input_shape[:1], node.input_shape[1]
    return split_channels(node, rank)


def _join(node: Node, dims: tuple[int | None, ...], channels: int | None) -> Shape:
    return (
        (*dims, channels) if "data_format" not in node.args else join_channels(node, dims, channels)
    )


@shape_rule(*PADDINGS)
def padding_shape(node: Node) -> tuple[Shape, ...]:
    spatial, channels = _spatial(node, PADDINGS[node.type])
    dims = tuple(
        None if n is None else n + a + b
        for n, (a, b) in zip(spatial, node.args["padding"], strict=True)
    )
    return (_join(node, dims, channels),)


@shape_rule(*CROPPINGS)
def cropping_shape(node: Node) -> tuple[Shape, ...]:
    spatial, channels = _spatial(node, CROPPINGS[node.type])
    dims = []
    for n, (a, b) in zip(spatial, node.args["cropping"], strict=True):
        if n is not None and a + b >= n:
            raise node.shape_error(
                f"cropping {a} + {b} leaves nothing of an axis of {n}", "crop less"
            )
        dims.append(None if n is None else n - a - b)
    return (_join(node, tuple(dims), channels),)


@shape_rule(*UPSAMPLINGS)
def upsampling_shape(node: Node) -> tuple[Shape, ...]:
    spatial, channels = _spatial(node, UPSAMPLINGS[node.type])
    size = node.args["size"]
    factors = (size,) if isinstance(size, int) else size
    dims = tuple(None if n is None else n * f for n, f in zip(spatial, factors, strict=True))
    return (_join(node, dims, channels),)


@shape_rule("RepeatVector")
def repeat_vector_shape(node: Node) -> tuple[Shape, ...]:
    if len(node.input_shape) != 1:
        raise node.shape_error("expects (batch, features)", "flatten first")
    return ((node.args["n"], node.input_shape[0]),)


weight_rule(*PADDINGS, *CROPPINGS, *UPSAMPLINGS, "RepeatVector")(no_weights)


def flatten_note(node: Node) -> str:
    """How PyTorch and ONNX flatten: as the layout pass placed the layer."""
    if node.placement.output.kind == "flat":
        return (
            "PyTorch and ONNX flatten the channels-first images as they are ((C, H, W) order);"
            " the Dense layers reading it hold their weight rows in that order (flat_rows),"
            " so no data moves"
        )
    if any(node.placement.converts):
        return "PyTorch and ONNX move the images to the spec's order first, so Flatten's order is Keras's"
    return "the input is in the spec's order everywhere, so Flatten's order is Keras's"


conversions("Flatten", always=flatten_note)

layout_rule("Flatten")(flattening)
