"""Core layers: Input, Dense, Dropout, Embedding."""

from __future__ import annotations

from backends.onnx import activation
from backends.onnx.model import BUILDERS, Layer


@BUILDERS.register("Input")
def build_input(layer: Layer, inputs: list[str]) -> list[str]:
    """Input(shape, dtype): a graph input named like the model input, batch axis symbolic."""
    node = layer.node
    return [layer.graph.add_input(node.name, node.args["dtype"], node.output_shape)]


@BUILDERS.register("Dense")
def build_dense(layer: Layer, inputs: list[str]) -> list[str]:
    """Dense(units, activation=None, use_bias=True, tie=None): Gemm on (batch, features),
    else MatMul + Add on the last axis. W is Keras's (in, out) kernel as is; a tied Dense
    reads the Embedding's (units, in) table instead, transposed."""
    (x,) = inputs
    kernel, transposed = _kernel(layer)
    bias = [layer.weight("B")] if layer.args["use_bias"] else []
    if len(layer.node.input_shape) == 1:
        y = layer.op("Gemm", [x, kernel, *bias], transB=int(transposed))
    else:
        if transposed:
            kernel = layer.op("Transpose", [kernel], perm=[1, 0])
        y = layer.op("MatMul", [x, kernel])
        if bias:
            y = layer.op("Add", [y, *bias])
    return [activation.apply(layer, y, layer.args["activation"])]


def _kernel(layer: Layer) -> tuple[str, bool]:
    """The Dense's own W, or (tied) the Embedding's ``<embedding>.embeddings`` initializer,
    which stays the Embedding's alone (no copy), flagged as needing a transpose. The tie is
    looked up by name among the layers built so far: a wrapped Dense has no ``links``."""
    tied = layer.args["tie"]
    if tied is None:
        return layer.weight("W"), False
    return Layer.of(layer.graph, layer.graph.layers[tied]).weight("embeddings"), True


@BUILDERS.register("Dropout")
def build_dropout(layer: Layer, inputs: list[str]) -> list[str]:
    """Dropout(rate, seed=0): the identity at inference, so no operator at all."""
    return list(inputs)


@BUILDERS.register("Embedding")
def build_embedding(layer: Layer, inputs: list[str]) -> list[str]:
    """Embedding(input_dim, output_dim): Gather rows of the table by integer id."""
    return [layer.op("Gather", [layer.weight("embeddings"), inputs[0]], axis=0)]
