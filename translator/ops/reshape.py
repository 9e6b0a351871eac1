"""Reshaping layers: Flatten, Reshape, Permute, ZeroPadding2D. None has weights."""

from __future__ import annotations

import math

from translator.ir import Node, Shape
from translator.ops.conv import data_format_arg, join_channels, split_channels
from translator.rules import no_weights, shape_rule, weight_rule
from translator.schema import REQUIRED, Arg, IntList, Padding, layer_schema

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
)


@shape_rule("Flatten")
def flatten_shape(node: Node) -> tuple[Shape, ...]:
    if None in node.input_shape:
        raise node.shape_error(
            "every axis must have a known size to flatten", "give each axis a size"
        )
    return ((math.prod(node.input_shape),),)  # type: ignore[arg-type]


@shape_rule("Reshape")
def reshape_shape(node: Node) -> tuple[Shape, ...]:
    target = list(node.args["target_shape"])
    if None in node.input_shape:
        raise node.shape_error(
            "every axis must have a known size to reshape", "give each axis a size"
        )
    size = math.prod(node.input_shape)  # type: ignore[arg-type]
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
