"""Merge layers: Add, Multiply, Subtract, Average, Maximum, Minimum (broadcasting) and
Concatenate. They take two or more inputs and have no weights."""

from __future__ import annotations

from translator.ir import Node, Shape, format_shape
from translator.ir.placement import along_axis, elementwise, layout_rule
from translator.ir.registries import no_weights, shape_rule, weight_rule
from translator.spec.schema import Arg, Int, layer_schema

# The element-wise merges broadcast, as Keras's merge layers and PyTorch and ONNX do: the
# inputs have one rank and per axis one size or 1 (a squeeze-and-excitation gate (1, 1, C)
# times a map (H, W, C)). Unequal ranks are refused: Keras would insert the missing axes
# after the batch axis, numpy before the first one.
BROADCAST = " The inputs broadcast: per axis one size, or 1."
layer_schema("Add", "merge", "Element-wise sum of the inputs." + BROADCAST, inputs=(2, None))
layer_schema(
    "Multiply", "merge", "Element-wise product of the inputs." + BROADCAST, inputs=(2, None)
)
layer_schema("Subtract", "merge", "The first input minus the second." + BROADCAST, inputs=(2, 2))
layer_schema("Average", "merge", "Element-wise mean of the inputs." + BROADCAST, inputs=(2, None))
layer_schema(
    "Maximum", "merge", "Element-wise maximum of the inputs." + BROADCAST, inputs=(2, None)
)
layer_schema(
    "Minimum", "merge", "Element-wise minimum of the inputs." + BROADCAST, inputs=(2, None)
)

ELEMENTWISE = ("Add", "Multiply", "Subtract", "Average", "Maximum", "Minimum")
layer_schema(
    "Concatenate",
    "merge",
    "Joins inputs along an axis; all other axes must match.",
    Arg("axis", Int(-64, 63), -1, "the axis to join along (batch axis is 0)"),
    inputs=(2, None),
)


def _same(a: int | None, b: int | None) -> bool:
    return a is None or b is None or a == b


def _mismatch(node: Node, what: str) -> Exception:
    shapes = " and ".join(format_shape(s) for s in node.input_shapes)
    return node.shape_error(f"{what}: {shapes}", "make the input shapes agree")


def _broadcast(a: int | None, b: int | None) -> int | None:
    """The size of one axis of two broadcast inputs (None: free); -1 when they clash."""
    if a == 1 or a is None:
        return a if b == 1 else b
    if b == 1 or b is None:
        return a
    return a if a == b else -1


@shape_rule(*ELEMENTWISE)
def elementwise_shape(node: Node) -> tuple[Shape, ...]:
    """The inputs' shape broadcast (numpy's rule on one rank: per axis one size, or 1)."""
    out = node.input_shapes[0]
    for other in node.input_shapes[1:]:
        merged = tuple(map(_broadcast, out, other)) if len(other) == len(out) else (-1,)
        if -1 in merged:  # shape_error names every input shape
            raise node.shape_error(
                "the input shapes do not broadcast",
                "inputs of one rank, each axis of one size or 1 (e.g. (1, 1, C) and (H, W, C))",
            )
        out = merged
    return (out,)


@shape_rule("Concatenate")
def concatenate_shape(node: Node) -> tuple[Shape, ...]:
    first = node.input_shapes[0]
    rank = len(first)
    axis = node.args["axis"]
    index = axis - 1 if axis > 0 else rank + axis
    if axis == 0 or not 0 <= index < rank:
        raise node.shape_error(
            f"axis {axis} is out of range", f"an axis from 1 to {rank} or -{rank} to -1"
        )
    for other in node.input_shapes[1:]:
        if len(other) != rank or not all(
            _same(a, b) for i, (a, b) in enumerate(zip(first, other, strict=True)) if i != index
        ):
            raise _mismatch(node, f"inputs must match on every axis but {axis}")
    sizes = [s[index] for s in node.input_shapes]
    known = [s for s in sizes if s is not None]
    joined = sum(known) if len(known) == len(sizes) else None
    merged = list(add_shape_like(node.input_shapes))
    merged[index] = joined
    return (tuple(merged),)


def add_shape_like(shapes: tuple[Shape, ...]) -> Shape:
    """Per axis, the first known size among ``shapes``."""
    return tuple(
        next((s[i] for s in shapes if s[i] is not None), None) for i in range(len(shapes[0]))
    )


weight_rule(*ELEMENTWISE, "Concatenate")(no_weights)

# Element-wise merges work in their inputs' layout; Concatenate joins along its axis,
# renumbered for that layout.
layout_rule("Add", "Subtract", "Multiply", "Average", "Maximum", "Minimum")(elementwise)
layout_rule("Concatenate")(along_axis)
