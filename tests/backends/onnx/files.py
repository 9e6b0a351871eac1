"""Hand-built ONNX files for the importer's tests: one float input ``x`` and one output ``y``
of the same shape, opset 20."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper


def write_model(
    path: Path,
    name: str,
    nodes: list[onnx.NodeProto],
    constants: dict[str, np.ndarray],
    shape: list[int],
) -> Path:
    """Save a graph of ``nodes`` from ``x`` to ``y`` (both ``shape``), ``constants`` as its
    initializers, at ``path``; returns ``path``."""
    graph = helper.make_graph(
        nodes,
        name,
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, shape)],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, shape)],
        [numpy_helper.from_array(v, k) for k, v in constants.items()],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 20)])
    model.ir_version = 10
    onnx.save(model, path)
    return path
