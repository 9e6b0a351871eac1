"""Core layers: Input, Dense, Dropout, Embedding, and the tied Dense (``TiedDense``).

Keras has no weight tying, so a Dense with ``tie: <embedding>`` is a small custom layer,
``TiedDense``, that multiplies by the Embedding layer's own ``embeddings`` variable,
transposed: the matrix is one variable, tracked and counted once, under the Embedding.
"""

from __future__ import annotations

from typing import Any

import keras

from backends.keras.activation import activation
from backends.keras.model import BUILDERS, keras_args
from translator.ir import Node

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
            raise RuntimeError(f"{self.name}: the tied Embedding was never linked")
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
