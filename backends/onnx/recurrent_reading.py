"""Importing one LSTM, GRU or RNN operator from zero state → LSTM, GRU, SimpleRNN (reverse:
go_backwards, its sequence turned back by the Slice after it).

Its input is (time, batch, features) in ONNX (layout 0); its ``Y`` (time, directions, batch,
hidden) gives ``return_sequences: true`` (tf2onnx's: its directions axis squeezed, then its
last step taken: ``false``), its ``Y_h`` the last state. The starting state may be absent or
provably zeros (tf2onnx's Expand of 0 to a shape computed from Shape, then Unsqueeze), its
sequence_lens absent or every sequence's full length. A reversed input (Slice, or tf2onnx's
ReverseSequence) is ``go_backwards``. W, R and B are the IR's ONNX tensors as they are (gate
orders ONNX's, B both biases: a Keras LSTM's one bias is the input half, the recurrent half
zeros); GRU ``linear_before_reset`` is ``reset_after``. A bidirectional operator is a
Bidirectional when its directions are merged (as the translator, torch.onnx or tf2onnx write
them), else, tf2onnx's pairing two Keras layers' runs, one layer per direction.
"""

from __future__ import annotations

from typing import Any

import onnx

from backends.onnx.bidirectional_reading import merge_mode
from backends.onnx.importing import RECOGNISERS, Reading, Refused, Thunk, View, attributes
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
from backends.onnx.step_reading import full_lengths, ints, last_step, reversed_sequence
from translator.commands.importing import written_args
from translator.ops.wrappers import bidirectional_layer

# Operators that only reshape, repeat or cut a state, or join states: zeros in, zeros out
# (tf2onnx's initial state is Expand(0, shape) then an Unsqueeze, Concat for two directions;
# the dynamo exporter's, for a dynamic batch, Expand then a step's Slice and Squeeze).
KEEPS_ZERO = ("Cast", "Concat", "Expand", "Identity", "Slice", "Squeeze", "Tile", "Unsqueeze")


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
    if squeeze is None or squeeze.op_type != "Squeeze" or ints(r, squeeze.input[1]) != [1]:
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
        joined = _joined_sequences(r, node) if sequences and not layout else None
        return joined or _split_directions(r, node, sequences)


def _joined_sequences(r: Reading, node: onnx.NodeProto) -> tuple[str | None, Any] | None:
    """tf2onnx's Keras Bidirectional returning sequences: Y's directions taken apart (each
    in time order) and merged, or side by side in a longer Concat (merge_mode null)."""
    taken = [_direction_taken(r, n) for n in r.source.readers.get(node.output[0], [])]
    found = {t[0]: t[1] for t in taken if t is not None}
    if len(taken) != 2 or sorted(found) != [0, 1]:
        return None
    pair = [found[0][-1].output[0], found[1][-1].output[0]]
    merge = r.reader(pair[1])
    if merge is None or r.reader(pair[0]) is not merge:
        return None
    merged = merge_mode(r, merge, (1, 0, 2)) if list(merge.input) == pair else None
    beside = merge.op_type == "Concat" and pair in [
        list(merge.input[i : i + 2]) for i in range(len(merge.input))
    ]
    if merged is None and not beside:
        return None
    for claimed in [*found[0], *found[1], *(merged[1:] if merged else [])]:
        r.claim(claimed)
    if merged is None:
        return None, {t: (1, 0, 2) for t in pair}
    r.claim(merge)
    return merged[0], {merged[1].output[0]: (1, 0, 2)}


@RECOGNISERS.register(*SPEC_TYPES)
def read_recurrent(r: Reading, node: onnx.NodeProto) -> None:
    """LSTM/GRU/RNN(X, W, R, B, sequence_lens, initial_h[, initial_c]) → the spec's layer."""
    a, type_ = attributes(node), SPEC_TYPES[node.op_type]
    inputs = [*node.input, *[""] * 8]
    direction = a.get("direction", "forward")
    if a.get("clip") or a.get("input_forget"):
        raise Refused("clipped or coupled gates are not recognised")
    layout = a.get("layout", 0)
    if inputs[4] and not full_lengths(r, inputs[4], inputs[0], layout):
        raise Refused("its sequence lengths may be shorter than the sequence")
    if not all(zero_state(r, t) for t in inputs[5:7]) or inputs[7]:
        raise Refused("it has a starting state other than zeros, or peepholes")
    x = r.view(node.input[0])
    r.expects(x, (1, 0, 2) if layout == 0 else (0, 1, 2), "its input is not the spec's sequence")
    biased = _biased(r, inputs[3])
    values = {"units": a["hidden_size"], "use_bias": biased}
    values |= _read_activations(node, type_)
    if type_ == GRU:
        values["reset_after"] = bool(a.get("linear_before_reset", 0))
    flipped = reversed_input(r, node.input[0]) or reversed_sequence(r, node.input[0])
    halves = _halves(r, node) if direction == "bidirectional" and not layout else None
    if halves and not flipped:
        _read_halves(r, node, {"type": type_, **values}, x, halves)
        return
    sequences, outputs = _outputs(r, node, layout)
    values["return_sequences"] = sequences
    if flipped or direction == "reverse":  # flipped first, or run so
        values["go_backwards"] = True
    layer = {"type": type_, **values}
    if direction == "reverse" and sequences and flipped_back(r, node) is None:
        raise Refused("a reverse run whose sequence is not turned back to processing order")
    if direction == "bidirectional":
        mode, outputs = _directions(r, node, layout, sequences)
        layer = bidirectional_layer({"type": type_, **written_args(type_, values)}, mode)
    weights = {"W": lambda: r.weight(inputs[1]), "R": lambda: r.weight(inputs[2])}
    if biased:
        weights["B"] = lambda: r.weight(inputs[3])
    r.add(node, layer, [View(x.ref, (0, 1, 2))], outputs, weights)


def _biased(r: Reading, bias: str) -> bool:
    """Whether the operator adds a bias: B given and not all zeros (tf2onnx writes zeros for
    a Keras layer without one; zeros added are no bias, exactly)."""
    value = r.const(bias) if bias else None
    return bool(bias) and (value is None or bool(value.any()))


# tf2onnx's bidirectional operator may run two Keras layers' directions at once (layers of
# one configuration on one input): Y's directions taken apart (Slice [d, d + 1) on axis 1,
# Squeeze), each direction is read as a layer of its own (the backward one ``go_backwards``),
# paired again where their outputs merge (``backends.onnx.bidirectional_reading``).
Half = tuple[bool, dict[str, Any], list[onnx.NodeProto]]


def _direction_taken(r: Reading, cut: onnx.NodeProto) -> tuple[int, list[onnx.NodeProto]] | None:
    """The direction a Slice of Y then a Squeeze of its axis take, and the two nodes."""
    given = [ints(r, t) for t in [*cut.input[1:5], ""][:4]] if cut.op_type == "Slice" else []
    if not given or given[0] is None or given[2] != [1] or given[3] not in (None, [1]):
        return None
    drop = r.reader(cut.output[0])
    if given[1] != [given[0][0] + 1] or drop is None or drop.op_type != "Squeeze":
        return None
    return (given[0][0], [cut, drop]) if ints(r, drop.input[1]) == [1] else None


def _halves(r: Reading, node: onnx.NodeProto) -> list[Half] | None:
    """Per direction taken apart: return_sequences, its output's views, the nodes claimed
    (a backward run's last step is its first in time order); None for another form."""
    taken = [_direction_taken(r, n) for n in r.source.readers.get(node.output[0], [])]
    found = {t[0]: t[1] for t in taken if t is not None}
    if len(taken) != 2 or sorted(found) != [0, 1] or node.output[0] in r.source.outputs:
        return None
    halves: list[Half] = []
    for direction, nodes in sorted(found.items()):
        steps = nodes[-1].output[0]
        last = last_step(r, steps, 0, -1 if direction == 0 else 0)
        if last is None and direction == 1:
            return None  # the backward sequence in time order: one layer's, merged
        if last is None:
            halves.append((True, {steps: (1, 0, 2)}, nodes))
        else:
            halves.append((False, {last[-1].output[0]: (0, 1)}, [*nodes, *last]))
    return halves


def _read_halves(
    r: Reading, node: onnx.NodeProto, layer: dict[str, Any], x: View, halves: list[Half]
) -> None:
    """Each direction as a layer: its own W, R and B (the operator's, at its index)."""
    for direction, (sequences, outputs, claimed) in enumerate(halves):
        args = {"return_sequences": sequences, "go_backwards": bool(direction)}
        tensors = zip("WRB", node.input[1:4], strict=False)
        weights = {
            k: _taken(r, t, direction) for k, t in tensors if t and (k != "B" or layer["use_bias"])
        }
        r.add(node, {**layer, **args}, [View(x.ref, (0, 1, 2))], outputs, weights)
        for taken in claimed:
            r.claim(taken)


def _taken(r: Reading, tensor: str, direction: int) -> Thunk:
    return lambda: r.weight(tensor)[direction : direction + 1]
