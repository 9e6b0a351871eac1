"""Input, Dense, Dropout, Embedding; Dense against a hand-computed numpy reference."""

from __future__ import annotations

import numpy as np
import pytest

from tests.backends.keras.harness import check_spec, one_layer

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
    check_spec(one_layer(layer, shape))


@pytest.mark.parametrize("dtype", ["int32", "int64"])
def test_embedding_takes_integer_ids(dtype: str) -> None:
    spec = f"""
name: t
inputs:
  - {{name: ids, shape: [null], dtype: {dtype}}}
layers:
  - {{name: emb, type: Embedding, input_dim: 11, output_dim: 4}}
"""
    case = check_spec(spec)
    table = case.layer("emb").embeddings.numpy()
    np.testing.assert_array_equal(case.outputs[0], table[case.inputs["ids"]])


def test_dropout_is_the_identity_at_inference() -> None:
    case = check_spec(one_layer("{type: Dropout, rate: 0.9}", "[6]"))
    np.testing.assert_array_equal(case.outputs[0], case.inputs["x"])


def test_dense_matches_numpy_with_constant_weights() -> None:
    case = check_spec(one_layer("{name: d, type: Dense, units: 3, activation: tanh}", "[4]"))
    layer = case.layer("d")
    kernel = np.arange(12, dtype=np.float32).reshape(4, 3) / 10  # Keras kernel is (in, out)
    bias = np.array([0.5, -0.5, 0.25], np.float32)
    layer.set_weights([kernel, bias])
    x = np.array([[1, 2, 3, 4], [-1, 0, 1, 0.5]], np.float32)
    (out,) = case.run(x=x)
    np.testing.assert_allclose(out, np.tanh(x @ kernel + bias), atol=1e-6)
