"""Importing one LSTM, GRU or RNN operator from zero state → LSTM, GRU, SimpleRNN (reverse:
go_backwards, its sequence turned back by the Slice after it).

Its input is (time, batch, features) in ONNX (layout 0); its ``Y`` (time, directions, batch,
hidden) gives ``return_sequences: true``, its ``Y_h`` the last state. W, R and B are the IR's
ONNX tensors as they are (gate orders ONNX's, B both biases); GRU ``linear_before_reset`` is
``reset_after``.
"""

from __future__ import annotations

from typing import Any

import onnx

from backends.onnx.bidirectional_reading import pair_directions
from backends.onnx.importing import RECOGNISERS, Reading, Refused, View, attributes
from backends.onnx.merge import PRODUCT_OP, SUM_OP
from backends.onnx.recurrent import (
    GRU,
    PLAIN_ACTIVATIONS,
    SLOTS,
    SPEC_TYPES,
    flipped_back,
    reversed_input,
)
from backends.onnx.reshape import reshapes_to
from translator.commands.importing import written_args
from translator.ops.wrappers import bidirectional_layer

# Operators that only reshape or repeat a state, or join states: zeros in, zeros out
# (tf2onnx's initial state is Expand(0, shape) then an Unsqueeze, Concat for two directions).
KEEPS_ZERO = ("Cast", "Concat", "Expand", "Identity", "Squeeze", "Tile", "Unsqueeze")


def zero_state(r: Reading, tensor: str) -> bool:
    """An absent initial state, or one provably of zeros: a constant, ConstantOfShape of 0,
    or zeros only reshaped, repeated or joined (the shape operands are not followed)."""
    if not tensor:
        return True
    value = r.const(tensor)
    if value is not None:
        return not value.any()
    node = r.source.producers.get(tensor)
    if node is not None and node.op_type in KEEPS_ZERO:
        data = node.input if node.op_type == "Concat" else node.input[:1]
        return all(zero_state(r, t) for t in data)
    if node is None or node.op_type != "ConstantOfShape":
        return False
    fill = attributes(node).get("value")
    return fill is None or not onnx.numpy_helper.to_array(fill).any()


def _ints(r: Reading, tensor: str) -> list[int] | None:
    value = r.const(tensor) if tensor else None
    return None if value is None else [int(v) for v in value.reshape(-1)]


def last_step(r: Reading, tensor: str, axis: int) -> list[onnx.NodeProto] | None:
    """Slice(tensor, -1, to the end, axes=[axis]) then Squeeze([axis]), each the only reader
    of its input: the sequence's last step (a Keras layer's without return_sequences)."""
    cut = r.reader(tensor)
    if cut is None or cut.op_type != "Slice":
        return None
    given = [_ints(r, t) for t in [*cut.input[1:5], ""][:4]]
    if given[:3] != [[-1], given[1], [axis]] or given[3] not in (None, [1]):
        return None
    dropped = r.reader(cut.output[0])
    ends = given[1] or [0]
    if ends[0] < (1 << 30) or dropped is None or dropped.op_type != "Squeeze":
        return None
    return [cut, dropped] if _ints(r, dropped.input[1]) == [axis] else None


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
    if read[0] and not layout:
        last = _squeezed_last_step(r, node.output[0])
        if last:
            return False, {last[-1].output[0]: (0, 1)}
    if read[0]:
        return True, {node.output[0]: (1, None, 0, 2) if layout == 0 else (0, 1, None, 2)}
    return False, {node.output[1]: (None, 0, 1)}


def _squeezed_last_step(r: Reading, y: str) -> list[onnx.NodeProto]:
    """Y's directions axis squeezed, then its last step taken (tf2onnx's Keras layer without
    return_sequences): the three claimed, or none."""
    squeeze = r.reader(y)
    if squeeze is None or squeeze.op_type != "Squeeze" or _ints(r, squeeze.input[1]) != [1]:
        return []
    taken = last_step(r, squeeze.output[0], 0)
    for claimed in [squeeze, *taken] if taken else []:
        r.claim(claimed)
    return [squeeze, *taken] if taken else []


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
    if inputs[4] or not all(zero_state(r, t) for t in inputs[5:7]) or inputs[7]:
        raise Refused("it has sequence lengths, a starting state or peepholes")
    layout = a.get("layout", 0)
    x = r.view(node.input[0])
    r.expects(x, (1, 0, 2) if layout == 0 else (0, 1, 2), "its input is not the spec's sequence")
    sequences, outputs = _outputs(r, node, layout)
    values = {"units": a["hidden_size"], "return_sequences": sequences}
    values |= {"use_bias": bool(inputs[3]), **_read_activations(node, type_)}
    if type_ == GRU:
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
    pair_directions(r, r.add(node, layer, [View(x.ref, (0, 1, 2))], outputs, weights))


# tf2onnx's Keras layer running backwards reverses its time-first input by ReverseSequence
# over the full length (sequence_lens = Expand(time steps, (batch,)), both from Shape).


def _full_lengths(r: Reading, node: onnx.NodeProto, time_axis: int) -> bool:
    """Whether ReverseSequence's lengths are the time steps (a Gather of a Shape at the time
    axis of a view of the same spec tensor, expanded), or constants of that length."""
    lengths = node.input[1]
    steps = r.shape(node.input[0])
    value = r.const(lengths)
    if value is not None:
        return steps is not None and bool((value == steps[time_axis]).all())
    expand = r.source.producers.get(lengths)
    gather = r.source.producers.get(expand.input[0]) if expand is not None else None
    if expand is None or expand.op_type != "Expand" or gather is None:
        return False
    shape = r.source.producers.get(gather.input[0])
    if gather.op_type != "Gather" or shape is None or shape.op_type != "Shape":
        return False
    measured, index = r.views.get(shape.input[0]), _ints(r, gather.input[1])
    return measured is not None and index is not None and measured.axes[index[0]] == 1


def reversed_sequence(r: Reading, tensor: str) -> bool:
    """Whether a recurrent layer's time-first input is the sequence reversed in time."""
    node = r.source.producers.get(tensor)
    return node is not None and node.op_type == "ReverseSequence" and tensor in r.views


@RECOGNISERS.register("ReverseSequence")
def read_sequence_reversal(r: Reading, node: onnx.NodeProto) -> None:
    """ReverseSequence over the full length, read by recurrent layers only → no layer: its
    output is seen as its input until they take the flip in (``go_backwards``)."""
    x, a = r.view(node.input[0]), attributes(node)
    time, batch = a.get("time_axis", 0), a.get("batch_axis", 1)
    if x.axes[time] != 1 or x.axes[batch] != 0 or not _full_lengths(r, node, time):
        raise Refused("a reversal of other than the whole time axis")
    readers = r.source.readers.get(node.output[0], [])
    if not readers or any(n.op_type not in (*SPEC_TYPES, "Loop") for n in readers):
        raise Refused("a time reversal read by other than recurrent layers")
    r.views[node.output[0]] = x
