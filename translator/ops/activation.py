"""Activation layers: Activation, ReLU, LeakyReLU, Softmax. None of them has weights."""

from __future__ import annotations

from translator.ir import Node, Shape
from translator.rules import no_weights, shape_rule, weight_rule
from translator.schema import ACTIVATIONS, REQUIRED, Arg, Axes, Choice, Float, layer_schema

layer_schema(
    "Activation",
    "activation",
    "Applies an activation function by name.",
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
