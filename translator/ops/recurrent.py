"""Recurrent layers: SimpleRNN, LSTM, GRU (``reset_after`` true and false).

Gate counts and the per-framework tensors live here once; ``Bidirectional`` (wrappers.py)
reuses ``rnn_weights`` with two directions.
"""

from __future__ import annotations

from translator.ir import Node, Shape, WeightSpec
from translator.rules import shape_rule, weight_rule
from translator.schema import ACTIVATION, REQUIRED, Arg, Bool, Int, layer_schema

GATES = {"SimpleRNN": 1, "LSTM": 4, "GRU": 3}
KERAS_CELL = {"SimpleRNN": "simple_rnn_cell", "LSTM": "lstm_cell", "GRU": "gru_cell"}


def _rnn_schema(type_: str, doc: str, *extra: Arg) -> None:
    layer_schema(
        type_,
        "recurrent",
        doc,
        Arg("units", Int(), REQUIRED, "size of the hidden state"),
        Arg("activation", ACTIVATION, "tanh", "activation of the candidate / output"),
        *extra,
        Arg("use_bias", Bool(), True, "add bias vectors"),
        Arg("return_sequences", Bool(), False, "output every step (true) or the last (false)"),
        Arg("go_backwards", Bool(), False, "process the sequence in reverse"),
        Arg(
            "num_layers",
            Int(1, 64),
            1,
            "stacked layers, as PyTorch's num_layers (each after the first reads the previous "
            "one's sequence); Keras builds it as a stack of layers",
        ),
    )


_RECURRENT_ACTIVATION = Arg(
    "recurrent_activation", ACTIVATION, "sigmoid", "activation of the gates"
)
_rnn_schema("SimpleRNN", "Fully connected recurrent layer: `h = activation(x W + h R + b)`.")
_rnn_schema("LSTM", "Long short-term memory (gates i, f, c, o in Keras).", _RECURRENT_ACTIVATION)
_rnn_schema(
    "GRU",
    "Gated recurrent unit (gates z, r, h in Keras).",
    _RECURRENT_ACTIVATION,
    Arg(
        "reset_after",
        Bool(),
        True,
        "apply the reset gate after the recurrent matmul (true: PyTorch/cuDNN style, two biases)",
    ),
)


def sequence_dims(node: Node) -> tuple[int | None, int]:
    """(time steps, features) of a recurrent layer's input."""
    shape = node.input_shape
    if len(shape) != 2:
        raise node.shape_error(
            "expects a sequence input (batch, time, features)", "add a Reshape or check the input"
        )
    if shape[1] is None:
        raise node.shape_error("the feature axis must have a known size", "give it a size")
    return shape[0], shape[1]


def rnn_shape(node: Node, width: int) -> Shape:
    steps, _ = sequence_dims(node)
    return (steps, width) if node.args["return_sequences"] else (width,)


@shape_rule(*GATES)
def recurrent_shape(node: Node) -> tuple[Shape, ...]:
    return (rnn_shape(node, node.args["units"]),)


def _keras(node: Node, d: int, u: int, prefix: str, layer: int) -> tuple[WeightSpec, ...]:
    # Layer 0 is the Keras layer itself; layers 1.. are sublayers named layer_1, layer_2, ...
    stack = f"layer_{layer}/" if layer else ""
    g, cell = GATES[node.type], f"{prefix}{stack}{KERAS_CELL[node.type]}/"
    out = [
        WeightSpec(cell + "kernel", (d, g * u), "kernel"),
        WeightSpec(cell + "recurrent_kernel", (u, g * u), "recurrent_kernel"),
    ]
    if node.args["use_bias"]:
        double = node.type == "GRU" and node.args["reset_after"]
        out.append(WeightSpec(cell + "bias", (2, g * u) if double else (g * u,), "bias"))
    return tuple(out)


def _torch(node: Node, d: int, u: int, suffix: str, layer: int) -> tuple[WeightSpec, ...]:
    g, at = GATES[node.type], f"l{layer}{suffix}"
    out = [
        WeightSpec(f"weight_ih_{at}", (g * u, d), "kernel"),
        WeightSpec(f"weight_hh_{at}", (g * u, u), "recurrent_kernel"),
    ]
    if not node.args["use_bias"]:
        return tuple(out)
    if node.type == "GRU" and not node.args["reset_after"]:
        # No native PyTorch GRU applies the reset gate before the recurrent matmul; the
        # backend builds an exact custom module with Keras's single bias vector.
        return (*out, WeightSpec(f"bias_{at}", (g * u,), "bias"))
    return (
        *out,
        WeightSpec(f"bias_ih_{at}", (g * u,), "input_bias"),
        WeightSpec(f"bias_hh_{at}", (g * u,), "recurrent_bias"),
    )


def _onnx(node: Node, d: int, u: int, directions: int, layer: int) -> tuple[WeightSpec, ...]:
    # One ONNX recurrent operator per stacked layer: W, R, B for the first, W_l1, ... after.
    g, at = GATES[node.type], f"_l{layer}" if layer else ""
    out = [
        WeightSpec(f"W{at}", (directions, g * u, d), "kernel"),
        WeightSpec(f"R{at}", (directions, g * u, u), "recurrent_kernel"),
    ]
    if node.args["use_bias"]:
        # ONNX's B is [Wb, Rb]: an input and a recurrent bias per gate, always both.
        out.append(WeightSpec(f"B{at}", (directions, 2 * g * u), "bias"))
    return tuple(out)


def rnn_weights(
    node: Node, directions: tuple[tuple[str, str], ...]
) -> dict[str, tuple[WeightSpec, ...]]:
    """Weights of a recurrent ``node`` run in each direction.

    ``directions`` pairs a Keras name prefix with a PyTorch name suffix per direction:
    ``(("", ""),)`` for a plain layer, ``(("forward_lstm/", ""), ("backward_lstm/", "_reverse"))``
    inside Bidirectional.
    """
    _, d = sequence_dims(node)
    u = node.args["units"]
    layers = [(i, d if i == 0 else u) for i in range(node.args["num_layers"])]
    return {
        "keras": tuple(
            w for prefix, _ in directions for i, n in layers for w in _keras(node, n, u, prefix, i)
        ),
        # PyTorch orders a stack layer by layer, each layer's directions together.
        "torch": tuple(
            w for i, n in layers for _, suffix in directions for w in _torch(node, n, u, suffix, i)
        ),
        "onnx": tuple(w for i, n in layers for w in _onnx(node, n, u, len(directions), i)),
    }


@weight_rule(*GATES)
def recurrent_weights(node: Node) -> dict[str, tuple[WeightSpec, ...]]:
    return rnn_weights(node, (("", ""),))
