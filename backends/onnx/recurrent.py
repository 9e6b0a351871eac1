"""Recurrent layers: SimpleRNN, LSTM and GRU on ONNX's RNN, LSTM and GRU operators.

onnxruntime rejects ``layout=1`` (batch-first) for these operators (measured with
onnxruntime 1.32.0's CPU kernels: a one-node LSTM, GRU or RNN graph with ``layout=1`` fails
to load, "Batchwise recurrent operations (layout == 1) are not supported"), so the (batch,
time, features) input is transposed to (time, batch, features) and ``Y`` (time, directions,
batch, hidden) back to (batch, time, directions, hidden). The importer reads both layouts.
Gate orders (ONNX LSTM i,o,f,c; GRU z,r,h) are the weight port's business; the gate equations
match Keras's exactly: GRU ``reset_after`` is ``linear_before_reset`` and ONNX's ``B = [Wb,
Rb]`` holds Keras's bias in ``Wb`` (and its recurrent bias in ``Rb`` for a reset-after GRU).

``num_layers`` stacks one operator per layer (weights ``W``, ``R``, ``B``, then ``W_l1``, ...),
exactly as chained Keras layers: every layer but the last returns its whole sequence, the last
follows ``return_sequences``, and ``go_backwards`` applies to every layer, each handing on its
sequence in processing order as Keras does (so layer 1 of a backwards stack reads reversed time).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from backends.onnx.importing import Reading
from backends.onnx.model import BUILDERS, Layer
from translator.errors import UnsupportedInBackend

OPS = {"SimpleRNN": "RNN", "LSTM": "LSTM", "GRU": "GRU"}
SIMPLE_RNN, LSTM, GRU = OPS  # the spec types, for the importing modules
# Which spec argument drives each activation slot of the operator, in ONNX's order
# (LSTM f, g, h; GRU f, g; RNN f).
SLOTS: dict[str, tuple[str, ...]] = {
    "SimpleRNN": ("activation",),
    "LSTM": ("recurrent_activation", "activation", "activation"),
    "GRU": ("recurrent_activation", "activation"),
}
# Keras activation → (ONNX RNN activation, alpha, beta); None where the function takes none.
# onnxruntime reads activation_alpha/beta in order, one value per function that takes one.
RNN_ACTIVATIONS: dict[str, tuple[str, float | None, float | None]] = {
    "elu": ("Elu", 1.0, None),
    "hard_sigmoid": ("HardSigmoid", 1.0 / 6.0, 0.5),
    "leaky_relu": ("LeakyRelu", 0.2, None),
    "linear": ("Affine", 1.0, 0.0),
    "relu": ("Relu", None, None),
    "sigmoid": ("Sigmoid", None, None),
    "softplus": ("Softplus", None, None),
    "softsign": ("Softsign", None, None),
    "tanh": ("Tanh", None, None),
}
INT64_MIN = np.iinfo(np.int64).min


def _activations(layer: Layer, directions: int) -> dict[str, Any]:
    """The activations/activation_alpha/activation_beta attributes for the spec's functions."""
    names = [layer.args[slot] or "linear" for slot in SLOTS[layer.node.type]]
    missing = sorted({n for n in names if n not in RNN_ACTIVATIONS})
    if missing:
        raise UnsupportedInBackend(
            "onnx",
            layer.node.type,
            f"ONNX's {OPS[layer.node.type]} operator cannot apply {', '.join(missing)} inside"
            f" the recurrence (it takes only {', '.join(sorted(RNN_ACTIVATIONS))})",
        )
    chosen = [RNN_ACTIVATIONS[n] for n in names] * directions
    attrs: dict[str, Any] = {"activations": [op for op, _, _ in chosen]}
    alphas = [alpha for _, alpha, _ in chosen if alpha is not None]
    betas = [beta for _, _, beta in chosen if beta is not None]
    if alphas:
        attrs["activation_alpha"] = alphas
    if betas:
        attrs["activation_beta"] = betas
    return attrs


def reverse_time(layer: Layer, x: str) -> str:
    """``x`` (batch, time, ...) with the time axis reversed."""
    starts, ends = layer.ints("starts", [-1]), layer.ints("ends", [INT64_MIN])
    return layer.op("Slice", [x, starts, ends, layer.ints("axes", [1]), layer.ints("steps", [-1])])


def rnn_outputs(
    layer: Layer, x: str, direction: str, index: int = 0, sequences: bool | None = None
) -> list[str]:
    """Run stacked layer ``index``'s operator on ``x`` (batch, time, features); one output per
    direction, (batch, time, units) if ``sequences`` (default: ``return_sequences``), else
    (batch, units), in time order."""
    a = layer.args
    sequences = a["return_sequences"] if sequences is None else sequences
    directions = 2 if direction == "bidirectional" else 1
    at = f"_l{index}" if index else ""
    weights = [layer.weight(f"W{at}"), layer.weight(f"R{at}")]
    weights += [layer.weight(f"B{at}")] if a["use_bias"] else []
    extra = {"linear_before_reset": int(a["reset_after"])} if layer.node.type == "GRU" else {}
    sequence, last = layer.ops(
        OPS[layer.node.type],
        [layer.op("Transpose", [x], perm=[1, 0, 2]), *weights],
        2,
        hidden_size=a["units"],
        direction=direction,
        **_activations(layer, directions),
        **extra,
    )
    if sequences:
        batch_first = layer.op("Transpose", [sequence], perm=[2, 0, 1, 3])
        return [_pick(layer, batch_first, d, axis=2) for d in range(directions)]
    return [_pick(layer, last, d, axis=0) for d in range(directions)]


def _pick(layer: Layer, tensor: str, index: int, axis: int) -> str:
    """One direction's slice, the direction axis dropped."""
    return layer.op("Gather", [tensor, layer.ints("direction", index)], axis=axis)


@BUILDERS.register(*OPS)
def build_recurrent(layer: Layer, inputs: list[str]) -> list[str]:
    """SimpleRNN/LSTM/GRU(units, activation="tanh", recurrent_activation="sigmoid",
    reset_after=True, use_bias=True, return_sequences=False, go_backwards=False,
    num_layers=1): one operator per stacked layer, each reading the previous one's sequence."""
    count = layer.args["num_layers"]
    y = inputs[0]
    for index in range(count):
        last = index == count - 1
        y = _one_layer(layer, y, index, layer.args["return_sequences"] or not last)
    return [y]


def _one_layer(layer: Layer, x: str, index: int, sequences: bool) -> str:
    """Stacked layer ``index`` on ``x``, as one Keras layer with these ``return_sequences``."""
    backwards = layer.args["go_backwards"]
    (y,) = rnn_outputs(layer, x, "reverse" if backwards else "forward", index, sequences)
    if backwards and sequences:
        # ONNX returns a reverse run in time order; Keras in processing order.
        y = reverse_time(layer, y)
    return y


# Importing (``backends.onnx.recurrent_reading``): the operator's spec type, and what a
# reversal of time before or after it is.
SPEC_TYPES = {op: type_ for type_, op in OPS.items()}
# ONNX activation → Keras's, for the functions that take no alpha or beta.
PLAIN_ACTIVATIONS = {op: k for k, (op, a, b) in RNN_ACTIVATIONS.items() if a is None and b is None}


def reverses_time(r: Reading, node: Any, axes: Any) -> bool:
    """Whether ``node`` is ``reverse_time``'s Slice of the spec's time axis (1)."""
    given = [r.const(t) if t else None for t in [*node.input[1:5], "", "", ""][:4]]
    if node.op_type != "Slice" or any(v is None or v.size != 1 for v in given):
        return False
    start, end, axis, step = (int(v.reshape(-1)[0]) for v in given if v is not None)
    return axes[axis] == 1 and (start, step) == (-1, -1) and end < -(1 << 30)  # to the start


def flipped_back(r: Reading, node: Any) -> Any:
    """The Slice turning a reverse run's Y (moved, direction taken) back; None if none."""
    moved = r.reader(node.output[0])
    taken = r.reader(moved.output[0]) if moved is not None else None
    flip = r.reader(taken.output[0]) if taken is not None else None
    return flip if flip is not None and reverses_time(r, flip, (0, 1, 2)) else None


def reversed_input(r: Reading, tensor: str) -> bool:
    """Whether an operator's input is a sequence reversed in time (not a run's turned back)."""
    moved = r.source.producers.get(tensor)
    flip = r.source.producers.get(moved.input[0]) if moved is not None else None
    if flip is None or flip.op_type != "Slice" or flip.input[0] not in r.views:
        return False
    gathered = getattr(r.source.producers.get(flip.input[0]), "op_type", "") == "Gather"
    return not gathered and reverses_time(r, flip, r.views[flip.input[0]].axes)
