"""Values a file of dynamic axes computes from its inputs' sizes, read at probe sizes: the
positions sliced off a buffer to the run-time length, Slices keeping their input whole."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper, numpy_helper

from backends.onnx.reading import read_model
from backends.onnx.sized_reading import PROBES, keeps_whole, probed

ROWS, WIDTH = 16, 4
BIG = np.iinfo(np.int64).max


def _ints(name: str, *values: int) -> onnx.TensorProto:
    return numpy_helper.from_array(np.array(values, np.int64), name)


def _file(path: Path, end: str) -> Path:
    """x (batch, steps, 4) → Slice(x, 0, ``end``, axis 1); beside it the positions
    ``Slice(buffer, 0, steps)`` of a (1, 16) buffer 0 … 15, and x doubled (data)."""
    nodes = [
        helper.make_node("Shape", ["x"], ["steps"], start=1, end=2),
        helper.make_node("Slice", ["buffer", "zero", "steps", "one"], ["positions"]),
        helper.make_node("Slice", ["x", "zero", end, "one"], ["sliced"]),
        helper.make_node("Add", ["x", "x"], ["doubled"]),
    ]
    inits = [_ints("zero", 0), _ints("one", 1), _ints("five", 5), _ints("big", BIG)]
    inits.append(numpy_helper.from_array(np.arange(ROWS, dtype=np.int64)[None], "buffer"))
    x = helper.make_tensor_value_info("x", TensorProto.FLOAT, ["b", "t", WIDTH])
    outputs = [helper.make_tensor_value_info(t, TensorProto.FLOAT, None) for t in ("sliced",)]
    outputs.append(helper.make_tensor_value_info("doubled", TensorProto.FLOAT, None))
    outputs.append(helper.make_tensor_value_info("positions", TensorProto.INT64, None))
    graph = helper.make_graph(nodes, "sized", [x], outputs, inits)
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 18)]), path)
    return path


def test_positions_cut_to_the_run_time_length_are_read_at_each_probe(tmp_path: Path) -> None:
    source = read_model(_file(tmp_path / "m.onnx", "big"))
    values = probed(source, "positions")
    assert values is not None
    assert [v.tolist() for v in values] == [[list(range(p[1]))] for p in PROBES]
    assert probed(source, "doubled") is None  # read from the input's values
    assert [v.tolist() for v in probed(source, "five") or []] == [[5]]  # a constant, once


@pytest.mark.parametrize(("end", "whole"), [("big", True), ("steps", True), ("five", False)])
def test_a_slice_keeps_its_input_whole_at_any_length(tmp_path: Path, end: str, whole: bool) -> None:
    """To INT64_MAX or to the length read off x: whole; to 5: not, though the first probes'
    lengths (3 and 5) are no longer."""
    source = read_model(_file(tmp_path / "m.onnx", end))
    (node,) = [n for n in source.model.graph.node if n.output[0] == "sliced"]
    assert keeps_whole(source, node) is whole
