"""Core layers: Input, Dense, Dropout, Embedding."""

from __future__ import annotations

from translator.ir import Node, Shape, WeightSpec
from translator.rules import no_weights, shape_rule, weight_rule
from translator.schema import (
    ACTIVATION,
    REQUIRED,
    Arg,
    Bool,
    Choice,
    Dims,
    Float,
    Int,
    layer_schema,
)

layer_schema(
    "Input",
    "core",
    "A model input (declared under the spec's top-level `inputs:`).",
    Arg("shape", Dims(), REQUIRED, "per-example shape; null marks a free dimension"),
    Arg("dtype", Choice(("float32", "int32", "int64")), "float32", "element type"),
    inputs=(0, 0),
)
layer_schema(
    "Dense",
    "core",
    "Fully connected layer on the last axis: `activation(x @ kernel + bias)`.",
    Arg("units", Int(), REQUIRED, "output features"),
    Arg("activation", ACTIVATION, None, "activation applied to the output (null: linear)"),
    Arg("use_bias", Bool(), True, "add a bias vector"),
)
layer_schema(
    "Dropout",
    "core",
    "Randomly zeroes inputs while training; the identity at inference.",
    Arg("rate", Float(0.0, 1.0, open_max=True), REQUIRED, "fraction of inputs to drop"),
    Arg("seed", Int(0), 0, "seed of the dropout mask"),
)
layer_schema(
    "Embedding",
    "core",
    "Looks up a learned vector for each integer token id.",
    Arg("input_dim", Int(), REQUIRED, "vocabulary size (largest id + 1)"),
    Arg("output_dim", Int(), REQUIRED, "size of each vector"),
)


@shape_rule("Input")
def input_shape(node: Node) -> tuple[Shape, ...]:
    return (tuple(node.args["shape"]),)


def last_dim(node: Node) -> int:
    """The known size of the input's last axis, or a ShapeError."""
    shape = node.input_shape
    if not shape or shape[-1] is None:
        raise node.shape_error("the last axis must have a known size", "give it a size in the spec")
    return shape[-1]


@shape_rule("Dense")
def dense_shape(node: Node) -> tuple[Shape, ...]:
    last_dim(node)
    return ((*node.input_shape[:-1], node.args["units"]),)


@weight_rule("Dense")
def dense_weights(node: Node) -> dict[str, tuple[WeightSpec, ...]]:
    d, u = last_dim(node), node.args["units"]
    bias = node.args["use_bias"]
    return {
        "keras": (WeightSpec("kernel", (d, u), "kernel"),)
        + ((WeightSpec("bias", (u,), "bias"),) if bias else ()),
        "torch": (WeightSpec("weight", (u, d), "kernel"),)
        + ((WeightSpec("bias", (u,), "bias"),) if bias else ()),
        "onnx": (WeightSpec("W", (d, u), "kernel"),)
        + ((WeightSpec("B", (u,), "bias"),) if bias else ()),
    }


@shape_rule("Dropout")
def identity_shape(node: Node) -> tuple[Shape, ...]:
    return (node.input_shape,)


@shape_rule("Embedding")
def embedding_shape(node: Node) -> tuple[Shape, ...]:
    return ((*node.input_shape, node.args["output_dim"]),)


@weight_rule("Embedding")
def embedding_weights(node: Node) -> dict[str, tuple[WeightSpec, ...]]:
    shape = (node.args["input_dim"], node.args["output_dim"])
    return {
        "keras": (WeightSpec("embeddings", shape, "embeddings"),),
        "torch": (WeightSpec("weight", shape, "embeddings"),),
        "onnx": (WeightSpec("embeddings", shape, "embeddings"),),
    }


weight_rule("Input", "Dropout")(no_weights)
