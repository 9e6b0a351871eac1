"""Core layers: Input, Dense, Dropout, Embedding."""

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


@BUILDERS.register("Dense")
def build_dense(node: Node) -> Any:
    """Dense(units, activation=None, use_bias=True)."""
    return keras.layers.Dense(**keras_args(node, activation=activation(node.args["activation"])))
