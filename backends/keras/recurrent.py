"""Recurrent layers: SimpleRNN, LSTM, GRU (``reset_after`` true and false).

Keras names each layer's cell ``simple_rnn_cell`` / ``lstm_cell`` / ``gru_cell`` itself, so
the variable paths (``lstm_cell/kernel``, ...) are fixed whatever else the process built.
"""

from __future__ import annotations

from typing import Any

import keras

from backends.keras.activation import activation
from backends.keras.model import BUILDERS, NAME, keras_args
from translator.errors import UnsupportedInBackend
from translator.ir import Node

RNNS = {
    "SimpleRNN": keras.layers.SimpleRNN,
    "LSTM": keras.layers.LSTM,
    "GRU": keras.layers.GRU,
}
# The arguments that name an activation (SimpleRNN has no recurrent_activation).
ACTIVATION_ARGS = ("activation", "recurrent_activation")


@BUILDERS.register(*RNNS)
def build_rnn(node: Node) -> Any:
    """SimpleRNN / LSTM / GRU(units, activation="tanh", recurrent_activation="sigmoid",
    reset_after=True (GRU), use_bias=True, return_sequences=False, go_backwards=False)."""
    if node.args["num_layers"] != 1:
        raise UnsupportedInBackend(
            NAME, node.type, "a stacked recurrent layer (num_layers > 1) is not built in Keras yet"
        )
    functions = {k: activation(node.args[k]) for k in ACTIVATION_ARGS if k in node.args}
    args = {k: v for k, v in keras_args(node, **functions).items() if k != "num_layers"}
    return RNNS[node.type](**args)
