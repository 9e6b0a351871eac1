"""Keras's ReLU written out as the ONNX export writes it (a threshold, a cap, a slope)
imports as one ReLU layer computing what onnxruntime computes on the file; other numbers or
operands leave the nodes listed."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import onnx
import pytest
from onnx import helper

from backends.onnx.importing import import_file
from tests.backends.onnx.files import assert_imports_running_as_the_file, write_model

SHAPE = [2, 8, 16]
Made = tuple[list[onnx.NodeProto], dict[str, np.ndarray]]


def _relu(cap: float | None, slope: float, threshold: float, below: float | None = None) -> Made:
    """ReLU as ``activation.build_relu`` writes it; ``below``: another number in ``t - x``."""
    numbers: dict[str, float] = {"t": threshold, "zero": 0.0}
    if threshold:
        nodes = [
            helper.make_node("Greater", ["x", "t"], ["above"]),
            helper.make_node("Where", ["above", "x", "zero"], ["y0"]),
        ]
    else:
        nodes = [helper.make_node("Relu", ["x"], ["y0"])]
    if cap is not None:
        nodes.append(helper.make_node("Clip", ["y0", "zero", "cap"], ["y1"]))
        numbers["cap"] = cap
    if slope:
        last = nodes[-1].output[0]
        nodes += [
            helper.make_node("Sub", ["t_below", "x"], ["under"]),
            helper.make_node("Relu", ["under"], ["rectified"]),
            helper.make_node("Mul", ["rectified", "slope"], ["scaled"]),
            helper.make_node("Sub", [last, "scaled"], ["y2"]),
        ]
        numbers |= {"slope": slope, "t_below": threshold if below is None else below}
    nodes.append(helper.make_node("Identity", [nodes[-1].output[0]], ["y"]))
    return nodes, {k: np.array(v, np.float32) for k, v in numbers.items()}


def _file(path: Path, made: Made) -> Path:
    return write_model(path, "relu", *made, list(SHAPE))


CASES = {
    "capped": (_relu(2.5, 0.0, 0.0), ["type: ReLU, max_value: 2.5}"]),
    "leaky": (_relu(None, 0.1, 0.0), ["type: ReLU, negative_slope: 0.1}"]),
    "threshold": (_relu(None, 0.0, 0.5), ["type: ReLU, threshold: 0.5}"]),
    "all": (_relu(3.0, 0.2, 0.5), ["ReLU, max_value: 3.0, negative_slope: 0.2, threshold: 0.5"]),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_a_written_out_layer_imports(
    case: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    made, lines = CASES[case]
    source = _file(tmp_path / f"{case}.onnx", made)
    assert_imports_running_as_the_file(source, lines, tmp_path, capsys)


# Each with the argument it must not be read with (the steps before it may be a ReLU).
NEAR_MISSES = {
    "negative_slope": _relu(None, 0.1, 0.5, below=0.25),  # t - x by another threshold
    "max_value": (  # a Clip from another floor than 0
        [
            helper.make_node("Relu", ["x"], ["r"]),
            helper.make_node("Clip", ["r", "low", "cap"], ["y"]),
        ],
        {"low": np.array(-1.0, np.float32), "cap": np.array(2.0, np.float32)},
    ),
}


@pytest.mark.parametrize("case", sorted(NEAR_MISSES))
def test_a_near_miss_is_no_relu(case: str, tmp_path: Path) -> None:
    imported = import_file(write_model(tmp_path / "near.onnx", "near", *NEAR_MISSES[case], SHAPE))
    assert imported.unclaimed
    assert not any(case in layer for layer in imported.spec["layers"])
