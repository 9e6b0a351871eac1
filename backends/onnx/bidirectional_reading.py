"""Importing a Bidirectional layer written as two recurrent layers, one run each way on the
same input, and the node merging their outputs (tf2onnx's form of a Keras Bidirectional: two
loops, or two operators, or halves of bidirectional operators that pair other layers' halves).

A merge (Add, Mul, Concat) of recurrent layers' outputs is found before the walk and, when
met, pairs them: the first operand a layer's (forward, or backwards for an inner
``go_backwards``), the second the same layer's run the other way on the same input (its
sequence turned back in time by a ``ReverseSequence`` when the layer returns sequences).
Add is merge_mode sum (then a Mul by 0.5: ave), Mul mul, a Concat of the two alone on the
last axis concat; two such operands side by side in a longer Concat are a Bidirectional of
merge_mode null (its two outputs named once, as a spec does). The two spec layers read are
replaced by the wrapper, its weights each direction's stacked (the first operand's first);
the merge itself is then read as usual if it is left (a longer Concat), or refused.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import onnx

from backends.onnx.importing import (
    PATTERNS,
    RECOGNISERS,
    Reading,
    Recogniser,
    Refused,
    Thunk,
    View,
    attributes,
)
from backends.onnx.merge import PRODUCT_OP, SUM_OP
from backends.onnx.recurrent import SPEC_TYPES
from backends.onnx.step_reading import full_lengths
from translator.ops.wrappers import bidirectional_layer

DIRECTION_MERGES = {"Concat": "concat", SUM_OP: "sum", PRODUCT_OP: "mul"}
# Operators between a recurrent operator (or loop) and the merge: views and step picks.
BETWEEN = ("Identity", "ReverseSequence", "Slice", "Squeeze", "Transpose")
RUNS = (*SPEC_TYPES, "Loop")


def _from_run(r: Reading, tensor: str) -> bool:
    """Whether ``tensor`` comes from a recurrent operator or loop through views and picks."""
    for _ in range(8):
        node = r.source.producers.get(tensor)
        if node is None or node.op_type in RUNS:
            return node is not None
        if node.op_type not in BETWEEN:
            return False
        tensor = node.input[0]
    return False


@PATTERNS.register("DirectionMerge")
def find_direction_merges(r: Reading) -> dict[int, Recogniser]:
    """Merges of two or more recurrent outputs, read at the merge (see the module doc)."""
    found: dict[int, Recogniser] = {}
    for node in r.source.model.graph.node:
        runs = node.op_type in DIRECTION_MERGES and len(node.input) >= 2
        if runs and sum(_from_run(r, t) for t in node.input) >= 2:
            found[id(node)] = read_direction_merge
    return found


def read_direction_merge(r: Reading, node: onnx.NodeProto) -> None:
    """Pairs of one layer's two runs merged here → Bidirectional; else the usual merge."""
    if node.op_type == "Concat" and len(node.input) > 2:
        for first, second in zip(node.input, node.input[1:], strict=False):
            _pair(r, node, [first, second], (None, node))
    elif node.input[0] in r.views:
        merged = merge_mode(r, node, r.views[node.input[0]].axes)
        if merged is not None and _pair(r, node, list(node.input), merged):
            return
    if any(t not in r.views and _reversed(r, t) for t in node.input):
        raise Refused("it merges a sequence turned back in time with no run of the same layer")
    RECOGNISERS[node.op_type](r, node)


Merged = tuple[str | None, onnx.NodeProto]


def merge_mode(r: Reading, node: onnx.NodeProto, axes: Any) -> Merged | None:
    """The merge_mode of two directions seen with ``axes`` merged by ``node`` (of two
    inputs), and the merge's last node (ave: the Mul by 0.5 after the Add); None if none."""
    mode = DIRECTION_MERGES.get(node.op_type) if len(node.input) == 2 else None
    if mode == "concat":
        axis = axes[attributes(node).get("axis", 0) % len(axes)]
        mode = mode if axis == max(a for a in axes if a is not None) else None
    halved = r.reader(node.output[0]) if mode == "sum" else None
    half = r.const(halved.input[1]) if halved and halved.op_type == "Mul" else None
    if halved is not None and half is not None and half.size == 1 and float(half) == 0.5:
        return "ave", halved
    return None if mode is None else (mode, node)


def _reversed(r: Reading, tensor: str) -> View | None:
    """The view of a sequence a ReverseSequence (left unread) turns back, if so."""
    node = r.source.producers.get(tensor)
    if node is None or node.op_type != "ReverseSequence" or node.input[0] not in r.views:
        return None
    x, a = r.views[node.input[0]], attributes(node)
    time, batch = a.get("time_axis", 0), a.get("batch_axis", 1)
    whole = (
        x.axes[time] == 1
        and x.axes[batch] == 0
        and full_lengths(r, node.input[1], node.input[0], time)
    )
    return x if whole else None


def _index(r: Reading, name: str) -> int:
    return next((i for i, e in enumerate(r.layers) if e["name"] == name), -1)


def _entry_input(r: Reading, index: int) -> Any:
    """The input of layer ``index`` (its ``inputs``, else the layer before or the input)."""
    entry = r.layers[index]
    if "inputs" in entry:
        return entry["inputs"]
    if index:
        return r.layers[index - 1]["name"]
    return r.source.inputs[0].name if len(r.source.inputs) == 1 else None


def _pair(r: Reading, node: onnx.NodeProto, operands: list[str], merged: Merged) -> bool:
    """Replace the layers making ``operands`` by one Bidirectional, if they are one layer's
    two runs (see the module doc); whether they were."""
    first, second = r.views.get(operands[0]), r.views.get(operands[1]) or _reversed(r, operands[1])
    if first is None or second is None or first.ref == second.ref:
        return False
    at = [_index(r, first.ref), _index(r, second.ref)]
    if -1 in at or _entry_input(r, at[0]) != _entry_input(r, at[1]):
        return False
    entries = [{k: v for k, v in r.layers[i].items() if k not in ("name", "inputs")} for i in at]
    turned = [e.pop("go_backwards", False) for e in entries]
    sequences = entries[0].get("return_sequences", False)
    flipped = operands[1] not in r.views
    if entries[0] != entries[1] or turned[0] == turned[1] or flipped != sequences:
        return False
    if any(r.reader(t) is not node for t in operands) or first.axes != second.axes:
        return False
    inner = {**entries[0], "go_backwards": turned[0]}
    _replace(r, at, bidirectional_layer(inner, merged[0]))
    _merged_views(r, node, operands, merged, first.axes)
    return True


def _replace(r: Reading, at: list[int], wrapper: dict[str, Any]) -> None:
    """The two layers at ``at`` removed, the wrapper (named as the first) added last."""
    name, source = r.layers[at[0]]["name"], _entry_input(r, at[0])
    both = [r.weights.pop(r.layers[i]["name"]) for i in at]
    for i in sorted(at, reverse=True):
        del r.layers[i]
    if "go_backwards" in wrapper["layer"] and not wrapper["layer"]["go_backwards"]:
        del wrapper["layer"]["go_backwards"]
    inputs = {} if source == r.previous() else {"inputs": source}
    r.layers.append({"name": name, **wrapper, **inputs})
    r.weights[name] = {k: _stacked(both[0][k], both[1][k]) for k in both[0]}


def _merged_views(
    r: Reading, node: onnx.NodeProto, operands: list[str], merged: Merged, axes: Any
) -> None:
    """The merge's output as the wrapper's (claimed), or, merge_mode null, each operand."""
    name, (mode, last) = r.layers[-1]["name"], merged
    if mode is None:
        for tensor in operands:
            r.views[tensor] = View(name, axes)
        return
    for claimed in (node, last):
        r.claim(claimed)
    r.views[last.output[0]] = View(name, axes)


def _stacked(forward: Thunk, backward: Thunk) -> Thunk:
    return lambda: np.concatenate([forward(), backward()])
