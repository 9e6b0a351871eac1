"""Recurrent layers: SimpleRNN, LSTM, GRU (``reset_after`` true and false), and their
PyTorch-style stacks (``num_layers`` > 1).

Keras names each layer's cell ``simple_rnn_cell`` / ``lstm_cell`` / ``gru_cell`` itself, so
the variable paths (``lstm_cell/kernel``, ...) are fixed whatever else the process built.

Keras has no ``num_layers``: a stack is a Keras RNN layer (the stack's first layer, with its
own cell) that calls sublayers ``layer_1``, ``layer_2``, ... of the same class on its output
sequence, whose variables are ``layer_1/lstm_cell/kernel``, ... It computes exactly what the
same Keras layers chained one after the other compute: every layer but the last returns
sequences, the last the spec's ``return_sequences``, and ``go_backwards`` applies to every
layer (each reads its input reversed and, returning sequences, returns its steps in the
order it processed them, as a single Keras layer does).
"""

from __future__ import annotations

from typing import Any

import keras

from backends.keras.activation import activation
from backends.keras.importing import IMPORTERS, by_schema
from backends.keras.model import BUILDERS, LayerMixin, keras_args
from translator.ir import Node

RNNS = {
    "SimpleRNN": keras.layers.SimpleRNN,
    "LSTM": keras.layers.LSTM,
    "GRU": keras.layers.GRU,
}
# The arguments that name an activation (SimpleRNN has no recurrent_activation).
ACTIVATION_ARGS = ("activation", "recurrent_activation")


class _Stack(LayerMixin):
    """Mixin over a Keras RNN class (``base``): NOT a Keras layer, the stack described in the
    module docstring. The RNN itself is layer 0; ``stacked`` holds layers 1 .. n-1."""

    base: type

    def __init__(self, num_layers: int = 1, **kwargs: Any) -> None:
        last = kwargs.get("return_sequences", False)
        # Layer 0 feeds layer 1, so it returns its whole sequence.
        super().__init__(**{**kwargs, "return_sequences": num_layers > 1 or last})
        self.num_layers = num_layers
        self.stacked = [
            self.base(
                **{**kwargs, "name": f"layer_{i}", "return_sequences": i + 1 < num_layers or last}
            )
            for i in range(1, num_layers)
        ]

    def build(self, sequences_shape: Any, initial_state_shape: Any = None) -> None:
        super().build(sequences_shape, initial_state_shape)
        # Built here, inside this layer's name scope, so their paths are <name>/layer_i/...
        shape = (*sequences_shape[:2], self.cell.units)
        for layer in self.stacked:
            layer.build(shape)

    def call(
        self, sequences: Any, initial_state: Any = None, mask: Any = None, training: bool = False
    ) -> Any:
        x = super().call(sequences, initial_state=initial_state, mask=mask, training=training)
        for layer in self.stacked:
            x = layer(x, training=training)
        return x

    def compute_output_shape(self, sequences_shape: Any, initial_state_shape: Any = None) -> Any:
        shape = super().compute_output_shape(sequences_shape)
        for layer in self.stacked:
            shape = layer.compute_output_shape(shape)
        return shape

    def get_config(self) -> dict[str, Any]:
        config = super().get_config()
        last = self.stacked[-1].return_sequences if self.stacked else self.return_sequences
        return {**config, "num_layers": self.num_layers, "return_sequences": last}


# One stack class per RNN class, registered so that a saved .keras model reloads.
STACKS = {
    type_: keras.saving.register_keras_serializable(package="translator")(
        type(f"Stacked{type_}", (_Stack, cls), {"base": cls, "__doc__": _Stack.__doc__})
    )
    for type_, cls in RNNS.items()
}


@BUILDERS.register(*RNNS)
def build_rnn(node: Node) -> Any:
    """SimpleRNN / LSTM / GRU(units, activation="tanh", recurrent_activation="sigmoid",
    reset_after=True (GRU), use_bias=True, return_sequences=False, go_backwards=False,
    num_layers=1); a stack (``STACKS``) when num_layers > 1."""
    functions = {k: activation(node.args[k]) for k in ACTIVATION_ARGS if k in node.args}
    args = keras_args(node, **functions)
    if node.args["num_layers"] == 1:
        return RNNS[node.type](**{k: v for k, v in args.items() if k != "num_layers"})
    return STACKS[node.type](**args)


IMPORTERS.register(*RNNS)(by_schema)  # Keras's classes (one layer each: num_layers 1)
