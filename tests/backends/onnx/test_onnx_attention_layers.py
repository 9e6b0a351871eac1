"""Attention subgraphs of a hand-written ONNX graph (q/k/v MatMul + Add, heads split by
Reshape/Transpose, scores scaled and softmaxed, an output projection) import as one
MultiHeadAttention that computes what onnxruntime computes on the file; a scale or a mask
the spec cannot express leaves the subgraph listed, with the reason, never guessed."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import onnx
import pytest
from onnx import helper

from backends.onnx.attention_reading import masked_causally
from backends.onnx.export import session
from backends.onnx.importing import Refused, import_file
from tests.backends.onnx.files import write_model
from tests.imports import run_import
from translator.spec.loader import load
from translator.weights.canonical import from_canonical
from translator.weights.files import load_canonical

BATCH, STEPS, WIDTH, HEADS = 2, 8, 64, 4
SIZE = WIDTH // HEADS


def _heads(name: str, x: str, size_major: bool = False) -> list[onnx.NodeProto]:
    """Projection ``name`` of x, split into (batch, heads, steps, size): each head a run of
    features, or (``size_major``) each head every fourth feature."""
    split, perm = ("size_major", [0, 3, 1, 2]) if size_major else ("split_shape", [0, 2, 1, 3])
    return [
        helper.make_node("MatMul", [x, f"{name}.weight"], [f"{name}_mm"]),
        helper.make_node("Add", [f"{name}_mm", f"{name}.bias"], [f"{name}_p"]),
        helper.make_node("Reshape", [f"{name}_p", split], [f"{name}_r"]),
        helper.make_node("Transpose", [f"{name}_r"], [f"{name}_h"], perm=perm),
    ]


def _attention_file(
    path: Path, scale: float, mask: np.ndarray | None = None, size_major: bool = False
) -> Path:
    """self-attention of 4 heads on a (2, 8, 64) input, its scores scaled by ``scale`` (and
    ``mask`` added), written at ``path``."""
    rng = np.random.default_rng(0)
    weights = {
        f"{role}.{kind}": rng.standard_normal(
            (WIDTH, WIDTH) if kind == "weight" else (WIDTH,)
        ).astype(np.float32)
        for role in ("q", "k", "v", "o")
        for kind in ("weight", "bias")
    }
    weights["split_shape"] = np.array([BATCH, STEPS, HEADS, SIZE], np.int64)
    weights["size_major"] = np.array([BATCH, STEPS, SIZE, HEADS], np.int64)
    weights["merge_shape"] = np.array([BATCH, STEPS, WIDTH], np.int64)
    weights["scale"] = np.array(scale, np.float32)
    nodes = [*_heads("q", "x", size_major), *_heads("k", "x"), *_heads("v", "x")]
    nodes += [
        helper.make_node("Transpose", ["k_h"], ["k_t"], perm=[0, 1, 3, 2]),
        helper.make_node("MatMul", ["q_h", "k_t"], ["scores"]),
        helper.make_node("Mul", ["scores", "scale"], ["scaled"]),
    ]
    if mask is not None:
        weights["mask"] = mask.astype(np.float32)
        nodes.append(helper.make_node("Add", ["scaled", "mask"], ["masked"]))
    nodes += [
        helper.make_node("Softmax", ["masked" if mask is not None else "scaled"], ["p"], axis=-1),
        helper.make_node("MatMul", ["p", "v_h"], ["context"]),
        helper.make_node("Transpose", ["context"], ["context_t"], perm=[0, 2, 1, 3]),
        helper.make_node("Reshape", ["context_t", "merge_shape"], ["merged"]),
        helper.make_node("MatMul", ["merged", "o.weight"], ["o_mm"]),
        helper.make_node("Add", ["o_mm", "o.bias"], ["y"]),
    ]
    return write_model(path, "attention", nodes, weights, [BATCH, STEPS, WIDTH])


CAUSAL = np.where(np.tril(np.ones((STEPS, STEPS), bool)), 0.0, -np.inf)[None, None]


@pytest.mark.parametrize("mask", [None, CAUSAL], ids=["unmasked", "causal"])
def test_attention_imports_and_computes_what_the_file_computes(
    mask: np.ndarray | None, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    import backends.onnx as ONNX

    source = _attention_file(tmp_path / "attention.onnx", SIZE**-0.5, mask)
    spec, weights = run_import(source, tmp_path, capsys)
    text = spec.read_text(encoding="utf-8")
    causal = ", causal: true" if mask is not None else ""
    assert f"type: MultiHeadAttention, num_heads: 4, key_dim: 16{causal}}}" in text
    graph = load(str(spec))
    x = np.random.default_rng(1).standard_normal((BATCH, STEPS, WIDTH)).astype(np.float32)
    (expected,) = session(source).run(None, {"x": x})
    canonical = from_canonical(graph, ONNX.NAME, load_canonical(graph, weights))
    (got,) = ONNX.run(ONNX.set_weights(ONNX.build(graph), canonical), {"x": x})
    np.testing.assert_allclose(np.asarray(got), expected, atol=1e-5, rtol=1e-5)


def test_scores_scaled_otherwise_are_listed_with_the_reason(tmp_path: Path) -> None:
    """Read at the query's projection, its first node: listed there with the reason (and
    every node after it, each with its own), no layer guessed."""
    imported = import_file(_attention_file(tmp_path / "attention.onnx", 0.3))
    first = imported.unclaimed[0]
    assert (first.cls, first.params) == ("MatMul", WIDTH * WIDTH)
    assert first.reason == "scores not scaled by 1/sqrt(16)"
    assert not any(layer["type"] == "MultiHeadAttention" for layer in imported.spec["layers"])


def test_a_padding_mask_is_refused() -> None:
    mask = np.zeros((1, 1, 4, 4), np.float32)
    mask[..., -1] = -np.inf  # the last key hidden from every query
    with pytest.raises(Refused, match="neither causal nor empty"):
        masked_causally([mask])


def test_a_mask_adding_other_values_is_refused() -> None:
    with pytest.raises(Refused, match="other values than 0 and −∞"):
        masked_causally([np.full((1, 1, 4, 4), -1.0, np.float32)])


def test_heads_split_otherwise_are_listed_with_the_reason(tmp_path: Path) -> None:
    """Query heads taking every fourth feature (a (…, size, heads) split): not the spec's
    heads, so not read as attention."""
    imported = import_file(_attention_file(tmp_path / "a.onnx", SIZE**-0.5, size_major=True))
    assert imported.unclaimed[0].reason == "the query heads are not split off as (…, heads, 16)"
