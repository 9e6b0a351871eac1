"""Core layers: Input, Dense, Dropout, Embedding."""

from __future__ import annotations

from typing import Any

import keras

from backends.keras.activation import activation
from backends.keras.model import BUILDERS, NAME, keras_args
from translator.errors import UnsupportedInBackend
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


@BUILDERS.register("Dense")
def build_dense(node: Node) -> Any:
    """Dense(units, activation=None, use_bias=True); ``tie`` is not a Keras argument."""
    if node.args["tie"] is not None:
        raise UnsupportedInBackend(
            NAME, node.type, "a Dense tied to an Embedding's matrix is not built in Keras yet"
        )
    args = {k: v for k, v in keras_args(node).items() if k != "tie"}
    return keras.layers.Dense(**{**args, "activation": activation(node.args["activation"])})
