"""Input, Dense, Dropout, Embedding, the tied Dense; Dense against a hand-computed numpy
reference."""

from __future__ import annotations

import numpy as np
import pytest

from tests.harness import check_spec, one_layer

pytestmark = pytest.mark.keras

CASES = [
    ("{type: Dense, units: 3}", "[4]"),
    ("{type: Dense, units: 3, use_bias: false, activation: relu}", "[4]"),
    ("{type: Dense, units: 2, activation: softmax}", "[null, 6]"),
    ("{type: Dense, units: 2}", "[3, 2, 5]"),
    ("{type: Dropout, rate: 0.5}", "[4]"),
    ("{type: Dropout, rate: 0.2, seed: 7}", "[null, 3]"),
]


@pytest.mark.parametrize(("layer", "shape"), CASES, ids=[c[0] for c in CASES])
def test_core_layer(layer: str, shape: str) -> None:
    check_spec(one_layer(layer, shape), "keras")


@pytest.mark.parametrize("dtype", ["int32", "int64"])
def test_embedding_takes_integer_ids(dtype: str) -> None:
    spec = f"""
name: t
inputs:
  - {{name: ids, shape: [null], dtype: {dtype}}}
layers:
  - {{name: emb, type: Embedding, input_dim: 11, output_dim: 4}}
"""
    case = check_spec(spec, "keras")
    table = case.layer("emb").embeddings.numpy()
    np.testing.assert_array_equal(case.outputs[0], table[case.inputs["ids"]])


def test_dropout_is_the_identity_at_inference() -> None:
    case = check_spec(one_layer("{type: Dropout, rate: 0.9}", "[6]"), "keras")
    np.testing.assert_array_equal(case.outputs[0], case.inputs["x"])


def test_dense_matches_numpy_with_constant_weights() -> None:
    case = check_spec(
        one_layer("{name: d, type: Dense, units: 3, activation: tanh}", "[4]"), "keras"
    )
    layer = case.layer("d")
    kernel = np.arange(12, dtype=np.float32).reshape(4, 3) / 10  # Keras kernel is (in, out)
    bias = np.array([0.5, -0.5, 0.25], np.float32)
    layer.set_weights([kernel, bias])
    x = np.array([[1, 2, 3, 4], [-1, 0, 1, 0.5]], np.float32)
    (out,) = case.run(x=x)
    np.testing.assert_allclose(out, np.tanh(x @ kernel + bias), atol=1e-6)


def _tied(head: str, ids: str = "[5]") -> str:
    """Token ids → Embedding ``wte`` (11 × 4) → the Dense ``head`` given, tied to it."""
    return f"""
name: t
inputs:
  - {{name: ids, shape: {ids}, dtype: int32}}
layers:
  - {{name: wte, type: Embedding, input_dim: 11, output_dim: 4}}
  - {head}
"""


TIED = [
    "{name: head, type: Dense, units: 11, tie: wte}",
    "{name: head, type: Dense, units: 11, use_bias: false, tie: wte}",
    "{name: head, type: Dense, units: 11, activation: softmax, tie: wte}",
]


@pytest.mark.parametrize("head", TIED)
def test_tied_dense_uses_the_embedding_matrix_transposed(head: str) -> None:
    """x @ E^T (+ bias), with E the Embedding's own variable: one matrix, counted once."""
    case = check_spec(_tied(head), "keras")
    table = case.layer("wte").embeddings
    bias = [np.linspace(-1, 1, 11, dtype=np.float32)] if "use_bias: false" not in head else []
    table.assign(np.arange(44, dtype=np.float32).reshape(11, 4) / 44)  # changes both layers
    case.layer("head").set_weights(bias)
    x = table.numpy()[case.inputs["ids"]]
    logits = x @ table.numpy().T + (bias[0] if bias else 0)
    if "softmax" in head:
        logits = np.exp(logits) / np.exp(logits).sum(axis=-1, keepdims=True)
    np.testing.assert_allclose(case.run(ids=case.inputs["ids"])[0], logits, rtol=1e-5, atol=1e-6)
    assert case.built.model.count_params() == 44 + len(bias) * 11


def test_tied_dense_inside_a_wrapper() -> None:
    """TimeDistributed(Dense tie: wte): the wrapped layer uses the Embedding's matrix too."""
    spec = _tied("{name: td, type: TimeDistributed, layer: {type: Dense, units: 11, tie: wte}}")
    case = check_spec(spec, "keras")
    table = case.layer("wte").embeddings.numpy()
    bias = case.layer("td").get_weights()[0]
    expected = table[case.inputs["ids"]] @ table.T + bias
    np.testing.assert_allclose(case.run(ids=case.inputs["ids"])[0], expected, rtol=1e-5, atol=1e-6)
