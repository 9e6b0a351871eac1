"""Hand-built ONNX files for the importer's tests: one float input ``x`` and one output ``y``
of the same shape, opset 20."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper, numpy_helper


def write_model(
    path: Path,
    name: str,
    nodes: list[onnx.NodeProto],
    constants: dict[str, np.ndarray],
    shape: list[int],
    same_shape: bool = True,
) -> Path:
    """Save a graph of ``nodes`` from ``x`` to ``y`` (both ``shape``, or ``y``'s left to
    inference), ``constants`` as its initializers, at ``path``; returns ``path``."""
    graph = helper.make_graph(
        nodes,
        name,
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, shape)],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, shape if same_shape else None)],
        [numpy_helper.from_array(v, k) for k, v in constants.items()],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 20)])
    model.ir_version = 10
    onnx.save(model, path)
    return path


def assert_imports_running_as_the_file(
    source: Path, lines: list[str], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """``import`` of ``source`` writes a spec holding each of ``lines``, whose ONNX build with
    the imported weights computes what onnxruntime computes on the file."""
    import backends.onnx as ONNX
    from backends.onnx.export import session
    from tests.imports import run_import
    from translator.spec.loader import load
    from translator.weights.canonical import from_canonical
    from translator.weights.files import load_canonical

    spec, weights = run_import(source, tmp_path, capsys)
    text = spec.read_text(encoding="utf-8")
    assert all(line in text for line in lines), text
    graph = load(str(spec))
    run = session(source)
    (x_info,) = run.get_inputs()
    x = np.random.default_rng(1).standard_normal(x_info.shape).astype(np.float32)
    (expected,) = run.run(None, {"x": x})
    canonical = from_canonical(graph, ONNX.NAME, load_canonical(graph, weights))
    (got,) = ONNX.run(ONNX.set_weights(ONNX.build(graph), canonical), {"x": x})
    np.testing.assert_allclose(np.asarray(got), expected, atol=1e-6)
