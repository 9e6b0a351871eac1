"""Importing a Bidirectional layer written as two layers, one run forwards and one backwards
(``go_backwards``) on the same input, their last states merged (tf2onnx's form of a Keras
Bidirectional around a layer it does not rewrite into one operator): the two spec layers read
are replaced by the wrapper, its weights each direction's stacked (forward first).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import onnx

from backends.onnx.importing import Reading, Thunk, View, attributes
from backends.onnx.merge import PRODUCT_OP, SUM_OP
from translator.ops.wrappers import bidirectional_layer

# The operator merging a Bidirectional's two directions → merge_mode (ave: Add then a half).
DIRECTION_MERGES = {"Concat": "concat", SUM_OP: "sum", PRODUCT_OP: "mul"}


def _entry_input(r: Reading, index: int) -> Any:
    """The input of layer ``index`` (its ``inputs``, else the layer before or the input)."""
    entry = r.layers[index]
    if "inputs" in entry:
        return entry["inputs"]
    if index:
        return r.layers[index - 1]["name"]
    return r.source.inputs[0].name if len(r.source.inputs) == 1 else None


def _merge(r: Reading, fore: str, back: str) -> tuple[str, onnx.NodeProto] | None:
    """How two layers' last states are merged (their only reader, taking them in order)."""
    tensors = [
        [t for t, v in r.views.items() if v.ref == n and v.axes == (0, 1)] for n in (fore, back)
    ]
    if [len(t) for t in tensors] != [1, 1]:
        return None
    merge = r.reader(tensors[1][0])
    if (
        merge is None
        or r.reader(tensors[0][0]) is not merge
        or list(merge.input) != [tensors[0][0], tensors[1][0]]
    ):
        return None
    mode = DIRECTION_MERGES.get(merge.op_type)
    if mode == "concat" and attributes(merge).get("axis") not in (-1, 1):
        return None
    halved = r.reader(merge.output[0]) if mode == "sum" else None
    half = r.const(halved.input[1]) if halved is not None and halved.op_type == "Mul" else None
    if halved is not None and half is not None and half.size == 1 and float(half) == 0.5:
        r.claim(merge)
        return "ave", halved
    return (mode, merge) if mode is not None else None


def pair_directions(r: Reading, name: str) -> None:
    """The layer just read, run backwards, and the one before it, the same layer forwards on
    the same input, merged by the next node → one Bidirectional (its weights both ways)."""
    back, fore = r.layers[-1], r.layers[-2] if len(r.layers) > 1 else {}
    same = {k: v for k, v in back.items() if k not in ("name", "inputs", "go_backwards")}
    if not back.get("go_backwards") or same != {
        k: v for k, v in fore.items() if k not in ("name", "inputs")
    }:
        return
    at = len(r.layers) - 1
    if _entry_input(r, at) != _entry_input(r, at - 1) or "return_sequences" in same:
        return
    merged = _merge(r, fore["name"], name)
    if merged is None:
        return
    mode, last = merged
    r.claim(last)
    inner = {k: v for k, v in fore.items() if k not in ("name", "inputs")}
    inputs = {"inputs": fore["inputs"]} if "inputs" in fore else {}
    r.layers[-2:] = [{"name": fore["name"], **bidirectional_layer(inner, mode), **inputs}]
    both = (r.weights[fore["name"]], r.weights.pop(name))
    r.weights[fore["name"]] = {k: _stacked(both[0][k], both[1][k]) for k in both[0]}
    r.views[last.output[0]] = View(fore["name"], (0, 1))


def _stacked(forward: Thunk, backward: Thunk) -> Thunk:
    return lambda: np.concatenate([forward(), backward()])
