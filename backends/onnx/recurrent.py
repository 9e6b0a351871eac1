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
import onnx

from backends.onnx.importing import RECOGNISERS, Reading, Refused, View, attributes
from backends.onnx.merge import PRODUCT_OP, SUM_OP
from backends.onnx.model import BUILDERS, Layer
from backends.onnx.reshape import reshapes_to
from translator.commands.importing import written_args
from translator.errors import UnsupportedInBackend
from translator.ops.wrappers import bidirectional_layer

OPS = {"SimpleRNN": "RNN", "LSTM": "LSTM", "GRU": "GRU"}
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


# Importing: one LSTM, GRU or RNN operator from zero state → LSTM, GRU, SimpleRNN (reverse:
# go_backwards, its sequence turned back by the Slice after it). Its input is (time, batch,
# features) in ONNX (layout 0); its ``Y`` (time, directions, batch, hidden) gives
# ``return_sequences: true``, its ``Y_h`` the last state. W, R and B are the IR's ONNX tensors
# as they are (gate orders ONNX's, B both biases); GRU ``linear_before_reset`` is ``reset_after``.
SPEC_TYPES = {op: type_ for type_, op in OPS.items()}
# ONNX activation → Keras's, for the functions that take no alpha or beta.
PLAIN_ACTIVATIONS = {op: k for k, (op, a, b) in RNN_ACTIVATIONS.items() if a is None and b is None}


def _zero(r: Reading, tensor: str) -> bool:
    """An absent initial state, or one of zeros (a constant, or ConstantOfShape of 0)."""
    if not tensor:
        return True
    value = r.const(tensor)
    if value is not None:
        return not value.any()
    node = r.source.producers.get(tensor)
    if node is None or node.op_type not in ("ConstantOfShape", "Expand"):
        return False
    if node.op_type == "Expand":
        return _zero(r, node.input[0])
    fill = attributes(node).get("value")
    return fill is None or not onnx.numpy_helper.to_array(fill).any()


def _read_activations(node: onnx.NodeProto, type_: str) -> dict[str, str]:
    """The spec arguments the operator's activations set (each slot's Keras name)."""
    given = attributes(node).get("activations")
    names = [a.decode() if isinstance(a, bytes) else a for a in given] if given else []
    found: dict[str, str] = {}
    for slot, name in zip(SLOTS[type_], names, strict=False):
        if (
            name not in PLAIN_ACTIVATIONS
            or found.get(slot, PLAIN_ACTIVATIONS[name]) != PLAIN_ACTIVATIONS[name]
        ):
            raise Refused(f"activations {names} have no spec equivalent")
        found[slot] = PLAIN_ACTIVATIONS[name]
    return found


def _outputs(r: Reading, node: onnx.NodeProto, layout: int) -> tuple[bool, dict[str, Any]]:
    """``return_sequences`` and the views of the outputs read."""
    read = [bool(t) and (t in r.source.readers or t in r.source.outputs) for t in node.output]
    read += [False] * (3 - len(read))
    if read[2] or (read[0] and read[1]):
        raise Refused("it hands on more than one of its outputs (states are not in the spec)")
    if read[0]:
        return True, {node.output[0]: (1, None, 0, 2) if layout == 0 else (0, 1, None, 2)}
    return False, {node.output[1]: (None, 0, 1)}


def _both_directions(r: Reading, node: onnx.NodeProto, layout: int) -> dict[str, Any]:
    """Y (time, 2, batch, hidden) → Transpose(0, 2, 1, 3) → Reshape to (time, batch,
    2·hidden), torch.onnx.export's concatenation of both directions: the two are claimed and
    the Reshape's output is the sequence (Keras's Bidirectional, merge_mode concat)."""
    moved = r.reader(node.output[0])
    joined = None if moved is None else r.reader(moved.output[0])
    concatenated = (
        not layout
        and moved is not None
        and attributes(moved).get("perm") == [0, 2, 1, 3]
        and joined is not None
        and reshapes_to(r, joined, 3)
    )
    if not concatenated or moved is None or joined is None:  # (the last two: for mypy)
        raise Refused("a bidirectional output not concatenated as torch.onnx.export does")
    r.claim(moved)
    r.claim(joined)
    return {joined.output[0]: (1, 0, 2)}


# The operator joining the two directions' outputs → Keras's merge_mode (Add then Div by 2: ave).
MERGE_MODES = {"Concat": "concat", SUM_OP: "sum", PRODUCT_OP: "mul"}


def _split_directions(r: Reading, node: onnx.NodeProto, sequences: bool) -> tuple[str | None, Any]:
    """The translator's export: each direction taken by a Gather (of Y moved to (batch,
    time, 2, hidden), or of Y_h) and the two merged (Concat, Add, Add and Div by 2, Mul)."""
    taken, axis = [], 0
    source = node.output[0] if sequences else node.output[1]
    moved = r.reader(source) if sequences else None
    if moved is not None and attributes(moved).get("perm") == [2, 0, 1, 3]:
        taken, axis, source = [moved], 2, moved.output[0]
    gathers = r.source.readers.get(source, [])
    picks = [r.const(g.input[1]) if g.op_type == "Gather" else None for g in gathers]
    merge = r.reader(gathers[0].output[0]) if len(gathers) == 2 else None
    ok = merge is not None and [None if p is None else p.tolist() for p in picks] == [0, 1]
    pair = [g.output[0] for g in gathers]
    joined = merge is not None and any(
        list(merge.input[i : i + 2]) == pair for i in range(len(merge.input))
    )
    if ok and not sequences and joined and merge is not None and len(merge.input) > 2:
        for gather in gathers:  # merge_mode null: both directions, read as they are
            r.claim(gather)
        return None, {g.output[0]: (0, 1) for g in gathers}
    if not ok or sequences != bool(taken) or merge is None or merge.op_type not in MERGE_MODES:
        raise Refused("a bidirectional output not merged as the translator exports one")
    if list(merge.input) != [g.output[0] for g in gathers] or {
        attributes(g).get("axis", 0) for g in gathers
    } != {axis}:
        raise Refused("a bidirectional output not merged as the translator exports one")
    mode, last = MERGE_MODES[merge.op_type], merge
    halved = r.reader(merge.output[0])
    if mode == "sum" and halved is not None and halved.op_type == "Div":
        two = r.const(halved.input[1])
        if two is not None and two.size == 1 and float(two) == 2.0:
            mode, last = "ave", halved
    for claimed in [*taken, *gathers, merge, last]:
        r.claim(claimed)
    return mode, {last.output[0]: (0, 1, 2) if sequences else (0, 1)}


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


def _directions(
    r: Reading, node: onnx.NodeProto, layout: int, sequences: bool
) -> tuple[str | None, Any]:
    """How a bidirectional operator's two directions are merged, and the merged output."""
    try:
        return "concat", _both_directions(r, node, layout)
    except Refused:
        return _split_directions(r, node, sequences)


@RECOGNISERS.register(*SPEC_TYPES)
def read_recurrent(r: Reading, node: onnx.NodeProto) -> None:
    """LSTM/GRU/RNN(X, W, R, B, sequence_lens, initial_h[, initial_c]) → the spec's layer."""
    a, type_ = attributes(node), SPEC_TYPES[node.op_type]
    inputs = [*node.input, *[""] * 8]
    direction = a.get("direction", "forward")
    if a.get("clip") or a.get("input_forget"):
        raise Refused("clipped or coupled gates are not recognised")
    if inputs[4] or not all(_zero(r, t) for t in inputs[5:7]) or inputs[7]:
        raise Refused("it has sequence lengths, a starting state or peepholes")
    layout = a.get("layout", 0)
    x = r.view(node.input[0])
    r.expects(x, (1, 0, 2) if layout == 0 else (0, 1, 2), "its input is not the spec's sequence")
    sequences, outputs = _outputs(r, node, layout)
    values = {"units": a["hidden_size"], "return_sequences": sequences}
    values |= {"use_bias": bool(inputs[3]), **_read_activations(node, type_)}
    if type_ == "GRU":
        values["reset_after"] = bool(a.get("linear_before_reset", 0))
    if reversed_input(r, node.input[0]) or direction == "reverse":  # flipped first, or run so
        values["go_backwards"] = True
    layer = {"type": type_, **values}
    if direction == "reverse" and sequences and flipped_back(r, node) is None:
        raise Refused("a reverse run whose sequence is not turned back to processing order")
    if direction == "bidirectional":
        mode, outputs = _directions(r, node, layout, sequences)
        layer = bidirectional_layer({"type": type_, **written_args(type_, values)}, mode)
    weights = {"W": lambda: r.weight(inputs[1]), "R": lambda: r.weight(inputs[2])}
    if inputs[3]:
        weights["B"] = lambda: r.weight(inputs[3])
    r.add(node, layer, [View(x.ref, (0, 1, 2))], outputs, weights)
