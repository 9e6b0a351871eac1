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


TIED = """
    inputs: [{name: ids, shape: [5], dtype: int32}, {name: x, shape: [6]}]
    layers:
      - {name: wte, type: Embedding, input_dim: 11, output_dim: 6, inputs: ids}
      - {name: seq_head, type: Dense, units: 11, tie: wte, inputs: wte}
      - {name: vec_head, type: Dense, units: 11, use_bias: false, tie: wte, inputs: x}
    outputs: [seq_head, vec_head]
"""


def test_tied_dense_reads_the_embedding_table(check) -> None:
    case = check(TIED)  # measured: no W anywhere but the Embedding's table, counted once
    names = [i.name for i in case.built.model.graph.initializer if "/const/" not in i.name]
    assert names == ["wte.embeddings", "seq_head.B"]


def test_tied_dense_is_x_times_the_table_transposed(forward, backend) -> None:
    """MatMul through a Transpose (a sequence) and Gemm transB=1 (a vector) both give x @ E^T."""
    table = np.random.default_rng(1).standard_normal((11, 6)).astype(np.float32)
    bias = np.linspace(-1, 1, 11, dtype=np.float32)
    ids = np.array([[0, 3, 10, 4, 4], [9, 8, 7, 6, 5]], np.int32)
    x = np.random.default_rng(2).standard_normal((2, 6)).astype(np.float32)
    weights = {"wte": {"embeddings": table}, "seq_head": {"B": bias}}
    seq, vec = forward(TIED, {"ids": ids, "x": x}, weights)
    np.testing.assert_allclose(seq, table[ids] @ table.T + bias, rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(vec, x @ table.T, rtol=1e-5, atol=1e-5)


def test_wrapped_tied_dense(check) -> None:
    """The loader gives a wrapped layer no ``links``: the tie is found by name."""
    check(
        """
        inputs: [{name: ids, shape: [3], dtype: int32}, {name: x, shape: [2, 3, 4]}]
        layers:
          - {name: wte, type: Embedding, input_dim: 7, output_dim: 4, inputs: ids}
          - {type: TimeDistributed, layer: {type: Dense, units: 7, tie: wte}, inputs: x}
        outputs: [wte, time_distributed]
        """
    )
