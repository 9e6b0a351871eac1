"""Core layers: Input, Dense, Dropout, Embedding, the tied Dense (``TiedDense``) and
``ClassToken``.

Keras has no weight tying, so a Dense with ``tie: <embedding>`` is a small custom layer,
``TiedDense``, that multiplies by the Embedding layer's own ``embeddings`` variable,
transposed: the matrix is one variable, tracked and counted once, under the Embedding.
"""

from __future__ import annotations

from typing import Any

import keras

from backends.keras.activation import activation
from backends.keras.importing import IMPORTERS, by_schema, schema_args
from backends.keras.model import (
    BUILDERS,
    EXPORT_REWRITES,
    Apply,
    counting,
    keras_args,
    not_wrapped,
)
from translator.errors import InternalError
from translator.ir import Graph, Node
from translator.ir.layout import fresh_name

# Layers whose spec arguments are exactly their Keras arguments.
PLAIN = {
    "Input": keras.layers.InputLayer,  # shape, dtype; the model takes its .output
    "Dropout": keras.layers.Dropout,  # rate, seed
    "Embedding": keras.layers.Embedding,  # input_dim, output_dim
}


@BUILDERS.register(*PLAIN)
def build_plain(node: Node) -> Any:
    """Input(shape, dtype), Dropout(rate, seed), Embedding(input_dim, output_dim)."""
    return PLAIN[node.type](**keras_args(node))


@keras.saving.register_keras_serializable(package="translator")
class TiedDense(keras.layers.Layer):
    """NOT a Keras layer: ``activation(x @ E^T + bias)`` with ``E`` an Embedding's matrix.

    The Embedding is handed over by ``link`` once both layers exist (a builder sees only its
    own node). It is kept behind a function rather than as an attribute because Keras tracks
    a layer attribute as a sublayer, which would list the matrix among this layer's weights
    too (and under this layer's name).
    """

    def __init__(
        self, units: int, activation: str | None = None, use_bias: bool = True, **kwargs: Any
    ) -> None:
        self.tie = kwargs.pop("tie", None)  # the Embedding's name; kept for get_config
        super().__init__(**kwargs)
        self.units, self.use_bias, self.activation_name = units, use_bias, activation
        self.activation = _activation_or_linear(activation)
        self._embedding: Any = None

    def link(self, arg: str, layer: Any) -> None:
        """Use ``layer`` (the Embedding named by ``tie``) for the kernel."""
        self._embedding = lambda: layer  # a function: not tracked, see the class docstring

    def build(self, input_shape: Any) -> None:
        # Keras's Dense creates its bias as "bias", zeros; so does this layer.
        if self.use_bias:
            self.bias = self.add_weight(name="bias", shape=(self.units,), initializer="zeros")

    def call(self, inputs: Any) -> Any:
        if self._embedding is None:
            raise InternalError(f"{self.name}: the tied Embedding was never linked")
        kernel = keras.ops.transpose(self._embedding().embeddings)
        out = keras.ops.matmul(inputs, kernel)
        return self.activation((out + self.bias) if self.use_bias else out)

    def compute_output_shape(self, input_shape: Any) -> Any:
        return (*input_shape[:-1], self.units)

    def get_config(self) -> dict[str, Any]:
        config = super().get_config()
        extra = {"units": self.units, "activation": self.activation_name, "tie": self.tie}
        return {**config, **extra, "use_bias": self.use_bias}


def _activation_or_linear(name: str | None) -> Any:
    function = activation(name)
    return keras.activations.linear if function is None else function


@BUILDERS.register("Dense")
def build_dense(node: Node) -> Any:
    """Dense(units, activation=None, use_bias=True); with ``tie``, a ``TiedDense``."""
    if node.args["tie"] is not None:
        return TiedDense(**keras_args(node))
    args = {k: v for k, v in keras_args(node).items() if k != "tie"}
    return keras.layers.Dense(**{**args, "activation": activation(node.args["activation"])})


def _tied(graph: Graph, node: Node, layers: dict[str, Any]) -> tuple[Any, Apply]:
    """``activation(x @ E^T + bias)`` with ``E`` the tied Embedding layer's matrix."""
    target = node.links["tie"]
    embedding = layers[target.shares or target.name]
    units = node.args["units"]
    bias = keras.layers.Embedding(1, units, name=node.name) if node.args["use_bias"] else None
    function, name = activation(node.args["activation"]), fresh_name(graph, f"{node.name}__act")
    act = keras.layers.Activation(function, name=name) if function else None

    def apply(x: Any) -> Any:
        # One id per vocabulary row, derived from x so that it is a graph tensor.
        first = keras.ops.slice(keras.ops.reshape(x, (-1,)), [0], [1])
        ids = counting(keras.ops.tile(first, (units,)))
        y = keras.ops.matmul(x, keras.ops.transpose(embedding(ids)))
        if bias is not None:
            y = y + bias(keras.ops.zeros_like(keras.ops.slice(ids, [0], [1])))
        return act(y) if act else y

    return bias, apply


@EXPORT_REWRITES.register("Dense")
def export_tied_dense(graph: Graph, node: Node, target: Node, layers: dict[str, Any]) -> Any:
    """A tied Dense: ``x`` times the transposed output of the tied Embedding layer at ids
    0 .. vocabulary-1 (its one matrix); a bias is the row of an ``Embedding(1, units)``."""
    if target is not node or node.args["tie"] is None:
        return None
    return _tied(graph, node, layers)


@keras.saving.register_keras_serializable(package="translator")
class ClassToken(keras.layers.Layer):
    """NOT a Keras layer: prepends its one learned row ``embeddings`` (1, features) to every
    sequence, as ViT's [CLS] token (held as an Embedding's table, as the export writes it)."""

    def build(self, input_shape: Any) -> None:
        self.embeddings = self.add_weight(
            name="embeddings", shape=(1, input_shape[-1]), initializer="zeros"
        )

    def call(self, inputs: Any) -> Any:
        batch = keras.ops.shape(inputs)[0]
        token = keras.ops.broadcast_to(self.embeddings[None], (batch, 1, inputs.shape[-1]))
        return keras.ops.concatenate([token, inputs], axis=1)

    def compute_output_shape(self, input_shape: Any) -> Any:
        steps = None if input_shape[1] is None else input_shape[1] + 1
        return (input_shape[0], steps, input_shape[2])


@BUILDERS.register("ClassToken")
def build_class_token(node: Node) -> Any:
    """ClassToken: this module's ``ClassToken``."""
    return ClassToken(name=node.name)


@EXPORT_REWRITES.register("ClassToken")
def export_class_token(graph: Graph, node: Node, target: Node, layers: dict[str, Any]) -> Any:
    """An ``Embedding(1, features)`` read at id 0 once per example, joined in front."""
    not_wrapped(node, target)
    layer = keras.layers.Embedding(1, node.input_shape[1], name=node.name)

    def apply(x: Any) -> Any:
        zero = keras.ops.cast(keras.ops.zeros_like(x[:, :1, 0]), "int32")
        return keras.ops.concatenate([layer(zero), x], axis=1)

    return layer, apply


IMPORTERS.register("Dense", "Embedding")(by_schema)  # Keras's classes, same arguments


@IMPORTERS.register("Dropout")
def import_dropout(layer: Any) -> dict[str, Any]:
    """Keras's Dropout; a seed of None (drawn anew) is left to the spec's default: it
    matters to training only."""
    config = layer.get_config()
    return schema_args(layer, "Dropout", {k: v for k, v in config.items() if v is not None})


@IMPORTERS.register("TiedDense")
def import_tied_dense(layer: Any) -> dict[str, Any]:
    """The backend's own TiedDense (a ``.keras`` it saved): a Dense with ``tie``."""
    return {**schema_args(layer, "Dense"), "tie": layer.tie}
