"""An LSTM operator's sequence lengths and starting state as the importer reads them: the full
length (or none) and zeros built at run time (tf2onnx's Expand of 0 to a shape from Shape,
then Unsqueeze) are a Keras LSTM's; shorter lengths or a state of other values are refused;
its last step taken by Gather is its last state. A Loop reading data from outside is data."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import onnx
import pytest
from onnx import helper

from backends.onnx.importing import import_file
from tests.backends.onnx.files import write_model

SHAPE = [2, 5, 3]  # batch, time, features; the LSTM has 3 units, so y is x's shape


def _lstm(lengths: list[int] | None, fill: float) -> tuple[list[onnx.NodeProto], dict]:
    rng = np.random.default_rng(0)
    constants = {
        "W": rng.standard_normal((1, 12, 3)).astype(np.float32),
        "R": rng.standard_normal((1, 12, 3)).astype(np.float32),
        "B": rng.standard_normal((1, 24)).astype(np.float32),
        "fill": np.array(fill, np.float32),
        "first": np.array([0], np.int64),
        "units": np.array([3], np.int64),
        "one": np.array([1], np.int64),
    }
    if lengths is not None:
        constants["lengths"] = np.array(lengths, np.int32)
    nodes = [
        helper.make_node("Transpose", ["x"], ["steps"], perm=[1, 0, 2]),
        helper.make_node("Shape", ["x"], ["shape"]),
        helper.make_node("Slice", ["shape", "first", "one", "first"], ["batch"]),
        helper.make_node("Concat", ["batch", "units"], ["state_shape"], axis=0),
        helper.make_node("Expand", ["fill", "state_shape"], ["zeros"]),
        helper.make_node("Unsqueeze", ["zeros", "first"], ["state"]),
        helper.make_node(
            "LSTM",
            ["steps", "W", "R", "B", "lengths" if lengths else "", "state", "state"],
            ["Y"],
            hidden_size=3,
        ),
        helper.make_node("Squeeze", ["Y", "one"], ["sequence"]),
        helper.make_node("Transpose", ["sequence"], ["y"], perm=[1, 0, 2]),
    ]
    return nodes, constants


@pytest.mark.parametrize("lengths", [None, [5, 5]])
def test_an_lstm_from_zeros_over_the_whole_sequence_imports(
    lengths: list[int] | None, tmp_path: Path
) -> None:
    imported = import_file(write_model(tmp_path / "m.onnx", "lstm", *_lstm(lengths, 0.0), SHAPE))
    assert not imported.unclaimed
    assert [layer["type"] for layer in imported.spec["layers"]] == ["LSTM"]


@pytest.mark.parametrize(
    ("lengths", "fill", "reason"),
    [([5, 3], 0.0, "sequence lengths"), (None, 0.5, "starting state")],
)
def test_an_lstm_over_shorter_lengths_or_from_a_state_is_listed(
    lengths: list[int] | None, fill: float, reason: str, tmp_path: Path
) -> None:
    imported = import_file(write_model(tmp_path / "m.onnx", "lstm", *_lstm(lengths, fill), SHAPE))
    assert [u.cls for u in imported.unclaimed][:1] == ["LSTM"]
    assert reason in imported.unclaimed[0].reason


@pytest.mark.parametrize("index", [-1, 4])
def test_the_last_step_gathered_is_an_lstm_without_its_sequences(
    index: int, tmp_path: Path
) -> None:
    nodes, constants = _lstm(None, 0.0)
    nodes[-1] = helper.make_node("Gather", ["sequence", "step"], ["y"], axis=0)
    constants["step"] = np.array(index, np.int64)
    graph = helper.make_graph(
        nodes,
        "lstm",
        [helper.make_tensor_value_info("x", onnx.TensorProto.FLOAT, SHAPE)],
        [helper.make_tensor_value_info("y", onnx.TensorProto.FLOAT, [2, 3])],
        [onnx.numpy_helper.from_array(v, k) for k, v in constants.items()],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 20)])
    onnx.save(model, tmp_path / "m.onnx")
    imported = import_file(tmp_path / "m.onnx")
    assert not imported.unclaimed
    (layer,) = imported.spec["layers"]
    assert (layer["type"], layer.get("return_sequences", False)) == ("LSTM", False)


def test_a_loop_whose_body_reads_data_from_outside_is_data(tmp_path: Path) -> None:
    """Its inputs all constants, a Loop whose body reads ``x`` by name is no arithmetic: it is
    listed as itself, not skipped (leaving the graph's output made by no layer)."""
    body = helper.make_graph(
        [
            helper.make_node("Identity", ["going"], ["still"]),
            helper.make_node("Add", ["carried", "x"], ["summed"]),
        ],
        "body",
        [
            helper.make_tensor_value_info("step", onnx.TensorProto.INT64, []),
            helper.make_tensor_value_info("going", onnx.TensorProto.BOOL, []),
            helper.make_tensor_value_info("carried", onnx.TensorProto.FLOAT, SHAPE),
        ],
        [
            helper.make_tensor_value_info("still", onnx.TensorProto.BOOL, []),
            helper.make_tensor_value_info("summed", onnx.TensorProto.FLOAT, SHAPE),
        ],
    )
    constants = {
        "trips": np.array(2, np.int64),
        "go": np.array(True),
        "start": np.zeros(SHAPE, np.float32),
    }
    loop = helper.make_node("Loop", ["trips", "go", "start"], ["y"], body=body)
    imported = import_file(write_model(tmp_path / "m.onnx", "loop", [loop], constants, SHAPE))
    assert [u.cls for u in imported.unclaimed] == ["Loop"]
