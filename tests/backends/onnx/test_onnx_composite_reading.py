"""gelu_tanh, the exact gelu and RMS normalization written out operator by operator (as
torch.onnx writes transformers' NewGELUActivation and Llama's RMSNorm, tf2onnx TensorFlow's
gelu) import as one spec layer each and compute what onnxruntime computes on the file; other
numbers leave the nodes listed."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import onnx
import pytest
from onnx import helper

from backends.onnx.export import session
from backends.onnx.importing import import_file
from tests.backends.onnx.files import write_model
from tests.imports import run_import
from translator.spec.loader import load
from translator.weights.canonical import from_canonical
from translator.weights.files import load_canonical

SHAPE = [2, 8, 16]


def _gelu_tanh(inner: float) -> tuple[list[onnx.NodeProto], dict[str, np.ndarray]]:
    nodes = [
        helper.make_node("Mul", ["x", "half"], ["halved"]),
        helper.make_node("Pow", ["x", "three"], ["cubed"]),
        helper.make_node("Mul", ["cubed", "cubic"], ["cubic_term"]),
        helper.make_node("Add", ["x", "cubic_term"], ["total"]),
        helper.make_node("Mul", ["total", "inner"], ["inside"]),
        helper.make_node("Tanh", ["inside"], ["t"]),
        helper.make_node("Add", ["t", "one"], ["plus"]),
        helper.make_node("Mul", ["halved", "plus"], ["y"]),
    ]
    numbers = {"half": 0.5, "three": 3.0, "cubic": 0.044715, "inner": inner, "one": 1.0}
    return nodes, {k: np.array(v, np.float32) for k, v in numbers.items()}


def _gelu_erf() -> tuple[list[onnx.NodeProto], dict[str, np.ndarray]]:
    """TensorFlow's exact gelu as tf2onnx writes it, its Erfc as ``1 - Erf``."""
    nodes = [
        helper.make_node("Mul", ["half", "x"], ["halved"]),
        helper.make_node("Neg", ["x"], ["negated"]),
        helper.make_node("Mul", ["negated", "root_half"], ["inside"]),
        helper.make_node("Erf", ["inside"], ["e"]),
        helper.make_node("Sub", ["one", "e"], ["complement"]),
        helper.make_node("Mul", ["halved", "complement"], ["y"]),
    ]
    numbers = {"half": 0.5, "root_half": 1 / math.sqrt(2), "one": 1.0}
    return nodes, {k: np.array(v, np.float32) for k, v in numbers.items()}


def _rms(epsilon: float) -> tuple[list[onnx.NodeProto], dict[str, np.ndarray]]:
    nodes = [
        helper.make_node("Pow", ["x", "two"], ["squared"]),
        helper.make_node("ReduceMean", ["squared", "last"], ["mean"], keepdims=1),
        helper.make_node("Add", ["mean", "epsilon"], ["shifted"]),
        helper.make_node("Sqrt", ["shifted"], ["root"]),
        helper.make_node("Reciprocal", ["root"], ["inverse"]),
        helper.make_node("Mul", ["x", "inverse"], ["normed"]),
        helper.make_node("Mul", ["norm.weight", "normed"], ["y"]),
    ]
    scale = np.random.default_rng(0).standard_normal(SHAPE[-1]).astype(np.float32)
    constants = {"two": np.array(2.0, np.float32), "last": np.array([-1], np.int64)}
    constants |= {"epsilon": np.array(epsilon, np.float32), "norm.weight": scale}
    return nodes, constants


def _file(path: Path, made: tuple[list[onnx.NodeProto], dict[str, np.ndarray]]) -> Path:
    nodes, constants = made
    return write_model(path, "composite", nodes, constants, list(SHAPE))


CASES = {
    "gelu_tanh": (_gelu_tanh(math.sqrt(2 / math.pi)), "type: Activation, activation: gelu_tanh"),
    "rms": (_rms(1e-5), "type: RMSNormalization, epsilon: 1.0e-05"),
    "gelu": (_gelu_erf(), "type: Activation, activation: gelu}"),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_written_out_imports_as_one_layer(
    case: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    import backends.onnx as ONNX

    made, line = CASES[case]
    source = _file(tmp_path / f"{case}.onnx", made)
    spec, weights = run_import(source, tmp_path, capsys)
    assert line in spec.read_text(encoding="utf-8")
    graph = load(str(spec))
    x = np.random.default_rng(1).standard_normal(SHAPE).astype(np.float32)
    (expected,) = session(source).run(None, {"x": x})
    canonical = from_canonical(graph, ONNX.NAME, load_canonical(graph, weights))
    (got,) = ONNX.run(ONNX.set_weights(ONNX.build(graph), canonical), {"x": x})
    np.testing.assert_allclose(np.asarray(got), expected, atol=1e-5, rtol=1e-5)


def test_a_tanh_with_other_numbers_is_not_gelu(tmp_path: Path) -> None:
    imported = import_file(_file(tmp_path / "other.onnx", _gelu_tanh(0.5)))
    assert imported.unclaimed
    assert not any(layer.get("activation") == "gelu_tanh" for layer in imported.spec["layers"])
