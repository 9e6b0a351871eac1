"""Activation layers: Activation, ReLU, LeakyReLU, Softmax, ELU (no weights) and PReLU."""

from __future__ import annotations

from translator.ir import Node, Shape, WeightSpec
from translator.ir.placement import along_axis, elementwise, layout_rule
from translator.ir.registries import (
    conversions,
    formula_rule,
    no_weights,
    number,
    shape_rule,
    weight_rule,
)
from translator.spec.schema import (
    ACTIVATIONS,
    REQUIRED,
    Arg,
    Axes,
    Choice,
    Float,
    IntList,
    layer_schema,
)
from translator.weights.maps import LayerMap, renamed, weight_map

layer_schema(
    "Activation",
    "activation",
    "Applies an activation function by name, as Keras 3 defines it: `gelu` is the exact (erf)"
    " form, `gelu_tanh` its tanh approximation (Keras `gelu(x, approximate=True)`, PyTorch"
    " `GELU(approximate='tanh')`), `hard_sigmoid` is `relu6(x + 3) / 6`, `hard_swish` (also"
    " `hard_silu`) `x * relu6(x + 3) / 6`, `swish` is `silu`, `mish` `x * tanh(softplus(x))`.",
    Arg("activation", Choice(ACTIVATIONS), REQUIRED, "the activation's name"),
)
layer_schema(
    "ReLU",
    "activation",
    "Rectified linear unit: `x` above `threshold`, `negative_slope * (x - threshold)` below,"
    " capped at `max_value`.",
    Arg("max_value", Float(0.0), None, "upper cap (null: none; 6 gives ReLU6)"),
    Arg("negative_slope", Float(0.0), 0.0, "slope below the threshold"),
    Arg("threshold", Float(0.0), 0.0, "values below it are damped (Keras refuses negative ones)"),
)
layer_schema(
    "LeakyReLU",
    "activation",
    "Leaky ReLU. Keras's default slope 0.3 differs from PyTorch's 0.01; the spec's value is used.",
    Arg("negative_slope", Float(0.0), 0.3, "slope for negative inputs"),
)
layer_schema(
    "Softmax",
    "activation",
    "Softmax over an axis.",
    Arg("axis", Axes(), -1, "the axis (or axes) to normalize over"),
)


@shape_rule("Activation", "ReLU", "LeakyReLU", "Softmax")
def same_shape(node: Node) -> tuple[Shape, ...]:
    return (node.input_shape,)


weight_rule("Activation", "ReLU", "LeakyReLU", "Softmax")(no_weights)


layer_schema(
    "ELU",
    "activation",
    "Exponential linear unit: `x` if x > 0 else `alpha * (exp(x) - 1)`.",
    Arg("alpha", Float(0.0), 1.0, "scale of the negative part"),
)
layer_schema(
    "PReLU",
    "activation",
    "Leaky ReLU with a learned slope. Keras learns one slope per input element unless "
    "`shared_axes` share it; PyTorch's nn.PReLU has one slope, or one per channel.",
    Arg("shared_axes", IntList(), None, "axes (1-based, batch is 0) sharing one slope"),
)


@shape_rule("ELU", "PReLU")
def elementwise_shape(node: Node) -> tuple[Shape, ...]:
    return (node.input_shape,)


weight_rule("ELU")(no_weights)


def prelu_alpha_shape(node: Node) -> tuple[int, ...]:
    """Keras's alpha: the input's shape with every shared axis set to 1."""
    shape = list(node.input_shape)
    for axis in node.args["shared_axes"] or ():
        if not 1 <= axis <= len(shape):
            raise node.shape_error(
                f"shared axis {axis} is out of range", f"axes from 1 to {len(shape)}"
            )
        shape[axis - 1] = 1
    if None in shape:
        raise node.shape_error(
            "a free axis must be one of shared_axes", "share it, e.g. shared_axes: [1]"
        )
    return node.known(tuple(shape))


@weight_rule("PReLU")
def prelu_weights(node: Node) -> dict[str, tuple[WeightSpec, ...]]:
    alpha = prelu_alpha_shape(node)
    return {
        "keras": (WeightSpec("alpha", alpha, "alpha"),),
        "torch": (WeightSpec("weight", alpha, "alpha"),),
        "onnx": (WeightSpec("slope", alpha, "alpha"),),
    }


@weight_map("PReLU")
def prelu_map(node: Node) -> LayerMap:
    """One slope per input element (shared axes of size 1), in the spec's layout everywhere:
    the backends apply it where the tensor is in that layout."""
    return renamed(
        node,
        {
            "keras": (("alpha", "alpha"),),
            "torch": (("weight", "alpha"),),
            "onnx": (("slope", "alpha"),),
        },
    )


@formula_rule("PReLU")
def prelu_formula(node: Node) -> str:
    """``10 × 10 × 4 slopes``: one per input element, 1 along every shared axis."""
    alpha = prelu_alpha_shape(node)
    shared = node.args["shared_axes"]
    where = f" (axes {', '.join(map(str, shared))} shared)" if shared else " (one per element)"
    return " × ".join(map(str, alpha)) + " slopes" + where


conversions(
    "LeakyReLU",
    negative_slope=lambda v: f"negative_slope {number(v)} kept (PyTorch's default 0.01 unused)",
)

# Element by element in any layout (an Activation's softmax keeps the spec's); Softmax along
# its axis, renumbered for the physical layout.
layout_rule("Activation", "ReLU", "LeakyReLU", "ELU")(elementwise)
layout_rule("Softmax")(along_axis)
