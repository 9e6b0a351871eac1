"""Slices by constant amounts and nearest repeats of one axis of a sequence import as
Cropping1D and UpSampling1D (on the channels of a sequence, between Permutes), computing what
onnxruntime computes on the file."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import onnx
import pytest
from onnx import helper

from tests.backends.onnx.files import assert_imports_running_as_the_file, write_model

SHAPE = [2, 8, 16]
Made = tuple[list[onnx.NodeProto], dict[str, np.ndarray]]


def _sliced(axis: int, start: int, end: int) -> Made:
    nodes = [helper.make_node("Slice", ["x", "starts", "ends", "axes"], ["y"])]
    ints = {"starts": [start], "ends": [end], "axes": [axis]}
    return nodes, {k: np.array(v, np.int64) for k, v in ints.items()}


def _repeated(axis: int, factor: int) -> Made:
    """``reshape.repeat`` of one axis: Unsqueeze, Expand, Reshape to Shape(x) · factors."""
    nodes = [
        helper.make_node("Unsqueeze", ["x", "new"], ["grown"]),
        helper.make_node("Expand", ["grown", "repeats"], ["wide"]),
        helper.make_node("Shape", ["x"], ["shape"]),
        helper.make_node("Mul", ["shape", "factors"], ["scaled"]),
        helper.make_node("Reshape", ["wide", "scaled"], ["y"]),
    ]
    repeats = [factor if i == axis + 1 else 1 for i in range(4)]
    ints = {"new": [axis + 1], "repeats": repeats}
    ints["factors"] = [factor if i == axis else 1 for i in range(3)]
    return nodes, {k: np.array(v, np.int64) for k, v in ints.items()}


def _file(path: Path, made: Made) -> Path:
    """The graph from ``x`` (SHAPE) to ``y`` (its shape left to inference)."""
    return write_model(path, "resampled", *made, list(SHAPE), same_shape=False)


CASES = {
    "cropped_steps": (_sliced(1, 1, -2), ["type: Cropping1D, cropping: [[1, 2]]"]),
    "cropped_channels": (_sliced(2, 2, 15), ["Permute", "Cropping1D, cropping: [[2, 1]]"]),
    "repeated_steps": (_repeated(1, 3), ["type: UpSampling1D, size: 3"]),
    "repeated_channels": (_repeated(2, 2), ["Permute", "type: UpSampling1D}"]),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_a_cropping_or_repeat_imports(
    case: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    made, lines = CASES[case]
    source = _file(tmp_path / f"{case}.onnx", made)
    assert_imports_running_as_the_file(source, lines, tmp_path, capsys)
