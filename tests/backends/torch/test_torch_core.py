"""Core layers in PyTorch: Input, Dense (tied to an Embedding too), Dropout, Embedding."""

from __future__ import annotations

import numpy as np
import pytest

from tests.harness import check_spec, one_layer, set_parameters

CASES = {
    "dense": ("{type: Dense, units: 3}", "[4]"),
    "dense_relu": ("{type: Dense, units: 3, activation: relu}", "[4]"),
    "dense_no_bias": ("{type: Dense, units: 3, use_bias: false}", "[4]"),
    "dense_on_sequence": ("{type: Dense, units: 2, activation: softmax}", "[null, 4]"),
    "dense_rank4": ("{type: Dense, units: 2}", "[2, 3, 4]"),
    "linear_alias": ("{type: Linear, units: 2}", "[4]"),
    "dropout": ("{type: Dropout, rate: 0.5}", "[4]"),
}


@pytest.mark.parametrize("layer,shape", CASES.values(), ids=CASES.keys())
def test_core_layer(layer: str, shape: str) -> None:
    check_spec(one_layer(layer, shape), "torch")


@pytest.mark.parametrize("dtype", ["int32", "int64"])
def test_embedding(dtype: str) -> None:
    case = check_spec(
        one_layer("{type: Embedding, input_dim: 7, output_dim: 3}", "[5]", dtype=dtype), "torch"
    )
    (ids,) = case.inputs.values()
    weight = case.module("embedding").weight.detach().numpy()
    np.testing.assert_array_equal(case.outputs[0], weight[ids])


def test_dropout_is_the_identity_at_inference() -> None:
    case = check_spec(one_layer("{type: Dropout, rate: 0.9}", "[50]"), "torch")
    np.testing.assert_array_equal(case.outputs[0], case.inputs["x"])


def test_dense_matches_numpy_with_constant_weights() -> None:
    case = check_spec(one_layer("{type: Dense, units: 3, activation: tanh}", "[4]"), "torch")
    kernel = np.arange(12, dtype=np.float32).reshape(4, 3) / 10  # Keras layout (in, out)
    bias = np.array([0.1, -0.2, 0.3], dtype=np.float32)
    set_parameters(case.module("dense"), weight=kernel.T, bias=bias)  # torch keeps (out, in)
    x = np.linspace(-1, 1, 8, dtype=np.float32).reshape(2, 4)
    (out,) = case.run(x=x)
    np.testing.assert_allclose(out, np.tanh(x @ kernel + bias), rtol=1e-6, atol=1e-6)


def test_input_nodes_are_measured_empty() -> None:
    case = check_spec(one_layer("{type: Dense, units: 3}", "[4]"), "torch")
    assert case.measurement.layers["x"] == (
        (),
        {"total": 0, "trainable": 0, "non_trainable": 0, "buffers": 0},
    )


def tied(dense: str) -> str:
    """Token ids → Embedding ``wte`` (vocabulary 7, 3 features) → ``dense`` tied to it."""
    return (
        "name: tied\ninputs: [{name: ids, shape: [5], dtype: int32}]\nlayers:\n"
        "  - {name: wte, type: Embedding, input_dim: 7, output_dim: 3}\n"
        f"  - {{name: head, type: Dense, units: 7, tie: wte, {dense}}}\n"
    )


TIED = {
    "no_bias": "use_bias: false",
    "bias": "use_bias: true",
    "softmax": "activation: softmax",
}


@pytest.mark.parametrize("dense", TIED.values(), ids=TIED.keys())
def test_tied_dense_reads_the_embedding_matrix_transposed(dense: str) -> None:
    case = check_spec(tied(dense), "torch")
    head, wte = case.module("head"), case.module("wte")
    assert "head.weight" not in dict(case.built.model.layers.named_parameters())
    matrix = wte.weight.detach().numpy()  # (vocabulary, features)
    bias = head.bias.detach().numpy() if head.bias is not None else 0.0
    logits = matrix[case.inputs["ids"]] @ matrix.T + bias  # x @ E^T + b, x = E[ids]
    if "softmax" in dense:
        logits = np.exp(logits) / np.exp(logits).sum(axis=-1, keepdims=True)
    np.testing.assert_allclose(case.outputs[0], logits, rtol=1e-5, atol=1e-6)


def test_tied_dense_follows_the_embedding() -> None:
    """One tensor, not a copy: changing the Embedding changes the tied projection too."""
    case = check_spec(tied("use_bias: false"), "torch")
    matrix = np.arange(21, dtype=np.float32).reshape(7, 3) / 10
    set_parameters(case.module("wte"), weight=matrix)
    ids = np.array([[0, 1, 2, 3, 6]], dtype=np.int32)
    (logits,) = case.run(ids=ids)
    np.testing.assert_allclose(logits, matrix[ids] @ matrix.T, rtol=1e-6)
