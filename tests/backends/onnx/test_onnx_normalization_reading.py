"""Batch and layer normalization written out operator by operator (as tf2onnx writes Keras's)
import as one spec layer each and compute what onnxruntime computes on the file; a near miss
leaves the nodes listed."""

from __future__ import annotations

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
Made = tuple[list[onnx.NodeProto], dict[str, np.ndarray]]


def _vector(seed: int, shape: tuple[int, ...]) -> np.ndarray:
    return np.random.default_rng(seed).standard_normal(shape).astype(np.float32)


def _scale_shift(offset_shape: tuple[int, ...] = (16,)) -> Made:
    """x · scale + offset, per feature: tf2onnx's inference batch norm."""
    nodes = [
        helper.make_node("Mul", ["x", "bn/batchnorm/mul"], ["scaled"], name="bn/batchnorm/mul_1"),
        helper.make_node("Add", ["scaled", "bn/batchnorm/sub"], ["y"], name="bn/batchnorm/add_1"),
    ]
    return nodes, {
        "bn/batchnorm/mul": _vector(0, (16,)),
        "bn/batchnorm/sub": _vector(1, offset_shape),
    }


def _layer_norm(
    gamma_shape: tuple[int, ...] = (1, 1, 16), centered: bool = True, x: str = "x", y: str = "y"
) -> Made:
    """tf2onnx's layer norm: its moments, then x · m + (-mean · m + beta), m = gamma / std."""
    nodes = [
        helper.make_node("ReduceMean", [x, "last"], ["mean"], keepdims=1),
        helper.make_node("Neg", ["mean"], ["negated"]),
        helper.make_node("Sub", [x, "mean"], ["centred"]),
        helper.make_node("Mul", ["centred", "centred"], ["squared"]),
        helper.make_node("ReduceMean", ["squared", "last"], ["variance"], keepdims=1),
        helper.make_node("Add", ["variance", "epsilon"], ["shifted"]),
        helper.make_node("Sqrt", ["shifted"], ["root"]),
        helper.make_node("Reciprocal", ["root"], ["inverse"]),
        helper.make_node("Mul", ["inverse", "gamma"], ["m"]),
        helper.make_node("Mul", [x, "m"], ["xm"]),
        helper.make_node("Mul", ["negated", "m"], ["shift"]),
    ]
    constants = {"last": np.array([-1], np.int64), "epsilon": np.array(1e-6, np.float32)}
    constants |= {"gamma": _vector(2, gamma_shape)}
    if centered:
        nodes.append(helper.make_node("Add", ["shift", "beta"], ["offset"]))
        constants["beta"] = _vector(3, (1, 1, 16))
    nodes.append(helper.make_node("Add", ["xm", "offset" if centered else "shift"], [y]))
    return nodes, constants


def _permuted_layer_norm() -> Made:
    """A layer norm over the steps of a (batch, steps, features) tensor, after a Transpose,
    added back to the input (its view permuted back by the importer)."""
    nodes, constants = _layer_norm(gamma_shape=(1, 1, 8), centered=False, x="xt", y="yt")
    first = helper.make_node("Transpose", ["x"], ["xt"], perm=[0, 2, 1])
    back = helper.make_node("Transpose", ["yt"], ["back"], perm=[0, 2, 1])
    last = helper.make_node("Add", ["x", "back"], ["y"])
    return [first, *nodes, back, last], constants


CASES = {
    "batch_norm": (_scale_shift(), "{name: bn, type: BatchNormalization}"),
    "layer_norm": (_layer_norm(), "type: LayerNormalization, epsilon: 1.0e-06}"),
    "layer_norm_uncentred": (_layer_norm(centered=False), "epsilon: 1.0e-06, center: false}"),
    "layer_norm_permuted": (_permuted_layer_norm(), "type: Permute, dims: [2, 1]}"),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_written_out_imports_as_one_layer(
    case: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    import backends.onnx as ONNX

    (nodes, constants), line = CASES[case]
    source = write_model(tmp_path / f"{case}.onnx", case, nodes, constants, SHAPE)
    spec, weights = run_import(source, tmp_path, capsys)
    assert line in spec.read_text(encoding="utf-8")
    graph = load(str(spec))
    x = _vector(4, tuple(SHAPE))
    (expected,) = session(source).run(None, {"x": x})
    canonical = from_canonical(graph, ONNX.NAME, load_canonical(graph, weights))
    (got,) = ONNX.run(ONNX.set_weights(ONNX.build(graph), canonical), {"x": x})
    np.testing.assert_allclose(np.asarray(got), expected, atol=1e-5, rtol=1e-5)


def test_a_scale_and_offset_along_other_axes_are_no_batch_norm(tmp_path: Path) -> None:
    nodes, constants = _scale_shift(offset_shape=(8, 1))
    imported = import_file(write_model(tmp_path / "other.onnx", "other", nodes, constants, SHAPE))
    assert [u.cls for u in imported.unclaimed] == ["Mul", "Add"]


def test_a_layer_norms_gamma_along_another_axis_is_refused(tmp_path: Path) -> None:
    nodes, constants = _layer_norm(gamma_shape=(8, 1))
    imported = import_file(write_model(tmp_path / "other.onnx", "other", nodes, constants, SHAPE))
    (refused,) = [u for u in imported.unclaimed if "not shaped as" in u.reason]
    assert refused.cls == "ReduceMean"
