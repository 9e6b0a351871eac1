"""ONNX core layers: Input, Dense, Dropout, Embedding."""

from __future__ import annotations

import numpy as np
import pytest

CASES = {
    "dense": """
        inputs: [{name: x, shape: [4]}]
        layers: [{type: Dense, units: 3}]
    """,
    "dense_no_bias_activation": """
        inputs: [{name: x, shape: [4]}]
        layers: [{type: Dense, units: 3, use_bias: false, activation: softmax}]
    """,
    "dense_rank3": """
        inputs: [{name: x, shape: [null, 4]}]
        layers: [{type: Dense, units: 2, activation: relu}]
    """,
    "dense_rank4_no_bias": """
        inputs: [{name: x, shape: [3, 2, 4]}]
        layers: [{type: Dense, units: 5, use_bias: false}]
    """,
    "dropout": """
        inputs: [{name: x, shape: [4]}]
        layers: [{type: Dropout, rate: 0.5}, {type: Dense, units: 2}]
    """,
    "dropout_last": """
        inputs: [{name: x, shape: [4]}]
        layers: [{type: Dense, units: 2}, {type: Dropout, rate: 0.5}]
    """,
    "embedding_int32": """
        inputs: [{name: ids, shape: [null], dtype: int32}]
        layers: [{type: Embedding, input_dim: 7, output_dim: 3}]
    """,
    "embedding_int64_fixed": """
        inputs: [{name: ids, shape: [6], dtype: int64}]
        layers: [{type: Embedding, input_dim: 5, output_dim: 2}, {type: Flatten}]
    """,
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_core_layer(case: str, check) -> None:
    check(CASES[case])


def test_dense_with_constant_weights_matches_numpy(forward) -> None:
    kernel = np.arange(12, dtype=np.float32).reshape(4, 3) / 10
    bias = np.array([0.5, -1.0, 2.0], np.float32)
    x = np.array([[1, 2, 3, 4], [-1, 0, 1, 0]], np.float32)
    (y,) = forward(CASES["dense"], {"x": x}, weights={"dense": {"W": kernel, "B": bias}})
    np.testing.assert_allclose(y, x @ kernel + bias, rtol=1e-6)


def test_dense_rank3_is_per_step(forward) -> None:
    kernel = np.ones((4, 2), np.float32)
    bias = np.array([1.0, -1.0], np.float32)
    x = np.arange(24, dtype=np.float32).reshape(2, 3, 4) - 10
    (y,) = forward(CASES["dense_rank3"], {"x": x}, weights={"dense": {"W": kernel, "B": bias}})
    np.testing.assert_allclose(y, np.maximum(x @ kernel + bias, 0), rtol=1e-6)


def test_embedding_looks_up_rows(forward) -> None:
    table = np.arange(21, dtype=np.float32).reshape(7, 3)
    ids = np.array([[0, 6, 2], [1, 1, 5]], np.int32)
    (y,) = forward(CASES["embedding_int32"], {"ids": ids}, {"embedding": {"embeddings": table}})
    np.testing.assert_array_equal(y, table[ids])
