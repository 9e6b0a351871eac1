"""Values a file of dynamic axes computes from its inputs' sizes, read at probe sizes: the
positions sliced off a buffer to the run-time length, Slices keeping their input whole."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper, numpy_helper

from backends.onnx.export import session
from backends.onnx.reading import read_model
from backends.onnx.sized_reading import PROBES, keeps_whole, probed
from tests.backends.onnx.files import write_model
from tests.imports import run_import
from translator.spec.loader import load
from translator.weights.canonical import from_canonical
from translator.weights.files import load_canonical

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


HEADS, SIZE = 4, 16


def _projection(name: str, x: str, split: str) -> list[onnx.NodeProto]:
    """``x @ W + b`` of ``name``, reshaped by ``split`` and transposed to (b, heads, t, size)."""
    return [
        helper.make_node("MatMul", [x, f"{name}.weight"], [f"{name}_mm"]),
        helper.make_node("Add", [f"{name}_mm", f"{name}.bias"], [f"{name}_p"]),
        helper.make_node("Reshape", [f"{name}_p", split], [f"{name}_r"]),
        helper.make_node("Transpose", [f"{name}_r"], [f"{name}_h"], perm=[0, 2, 1, 3]),
    ]


def _dynamic_attention(path: Path) -> Path:
    """Causal self-attention of 4 heads on x (b, t, 64): heads split by ``Reshape(x, Concat(
    Shape(x)[:2], [-1, 16]))``, which onnx cannot size, the mask ``Where(lower triangle of
    t × t, 0, −∞)`` built from the length, as a file exported with dynamic axes has them."""
    rng = np.random.default_rng(0)
    width = HEADS * SIZE
    weights = {
        f"{role}.{kind}": rng.standard_normal((width, width)[: 2 if kind == "weight" else 1])
        for role in ("q", "k", "v", "o")
        for kind in ("weight", "bias")
    }
    weights |= {"scale": np.array(0.25), "open": np.array(0.0), "blocked": np.array(-np.inf)}
    floats = {k: v.astype(np.float32) for k, v in weights.items()}
    sizes = {"heads": np.array([-1, SIZE], np.int64), "merged": np.array([-1], np.int64)}
    nodes = [
        helper.make_node("Shape", ["x"], ["lead"], start=0, end=2),
        helper.make_node("Shape", ["x"], ["steps"], start=1, end=2),
        helper.make_node("Concat", ["lead", "heads"], ["split"], axis=0),
        helper.make_node("Concat", ["lead", "merged"], ["merge"], axis=0),
        *(n for role in "qkv" for n in _projection(role, "x", "split")),
        helper.make_node("Concat", ["steps", "steps"], ["square"], axis=0),
        helper.make_node("ConstantOfShape", ["square"], ["ones"], value=_float(1.0)),
        helper.make_node("Trilu", ["ones"], ["lower"], upper=0),
        helper.make_node("Cast", ["lower"], ["kept"], to=TensorProto.BOOL),
        helper.make_node("Where", ["kept", "open", "blocked"], ["mask"]),
        helper.make_node("Transpose", ["k_h"], ["k_t"], perm=[0, 1, 3, 2]),
        helper.make_node("MatMul", ["q_h", "k_t"], ["scores"]),
        helper.make_node("Mul", ["scores", "scale"], ["scaled"]),
        helper.make_node("Add", ["scaled", "mask"], ["masked"]),
        helper.make_node("Softmax", ["masked"], ["p"], axis=-1),
        helper.make_node("MatMul", ["p", "v_h"], ["context"]),
        helper.make_node("Transpose", ["context"], ["context_t"], perm=[0, 2, 1, 3]),
        helper.make_node("Reshape", ["context_t", "merge"], ["joined"]),
        helper.make_node("MatMul", ["joined", "o.weight"], ["o_mm"]),
        helper.make_node("Add", ["o_mm", "o.bias"], ["y"]),
    ]
    return write_model(path, "attention", nodes, floats | sizes, ["b", "t", width])


def _float(value: float) -> onnx.TensorProto:
    return numpy_helper.from_array(np.array([value], np.float32), "value")


def test_attention_of_dynamic_length_imports_and_runs_at_any_length(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    import backends.onnx as ONNX

    source = _dynamic_attention(tmp_path / "attention.onnx")
    spec, weights = run_import(source, tmp_path, capsys)
    text = spec.read_text(encoding="utf-8")
    assert "type: MultiHeadAttention, num_heads: 4, key_dim: 16, causal: true}" in text
    assert "- {name: x, shape: [null, 64]}" in text
    graph = load(str(spec))
    held = ONNX.set_weights(
        ONNX.build(graph), from_canonical(graph, ONNX.NAME, load_canonical(graph, weights))
    )
    for steps in (3, 8):
        x = np.random.default_rng(steps).standard_normal((2, steps, 64)).astype(np.float32)
        (expected,) = session(source).run(None, {"x": x})
        (got,) = ONNX.run(held, {"x": x})
        np.testing.assert_allclose(np.asarray(got), expected, atol=1e-4, rtol=1e-4)
