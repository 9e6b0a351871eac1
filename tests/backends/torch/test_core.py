"""Core layers in PyTorch: Input, Dense, Dropout, Embedding."""

from __future__ import annotations

import numpy as np
import pytest

from tests.backends.torch.harness import check_spec, one_layer, set_parameters

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
    check_spec(one_layer(layer, shape))


@pytest.mark.parametrize("dtype", ["int32", "int64"])
def test_embedding(dtype: str) -> None:
    case = check_spec(
        one_layer("{type: Embedding, input_dim: 7, output_dim: 3}", "[5]", dtype=dtype)
    )
    (ids,) = case.inputs.values()
    weight = case.module("embedding").weight.detach().numpy()
    np.testing.assert_array_equal(case.outputs[0], weight[ids])


def test_dropout_is_the_identity_at_inference() -> None:
    case = check_spec(one_layer("{type: Dropout, rate: 0.9}", "[50]"))
    np.testing.assert_array_equal(case.outputs[0], case.inputs["x"])


def test_dense_matches_numpy_with_constant_weights() -> None:
    case = check_spec(one_layer("{type: Dense, units: 3, activation: tanh}", "[4]"))
    kernel = np.arange(12, dtype=np.float32).reshape(4, 3) / 10  # Keras layout (in, out)
    bias = np.array([0.1, -0.2, 0.3], dtype=np.float32)
    set_parameters(case.module("dense"), weight=kernel.T, bias=bias)  # torch keeps (out, in)
    x = np.linspace(-1, 1, 8, dtype=np.float32).reshape(2, 4)
    (out,) = case.run(x=x)
    np.testing.assert_allclose(out, np.tanh(x @ kernel + bias), rtol=1e-6, atol=1e-6)


def test_input_nodes_are_measured_empty() -> None:
    case = check_spec(one_layer("{type: Dense, units: 3}", "[4]"))
    assert case.measurement.layers["x"] == (
        (),
        {"total": 0, "trainable": 0, "non_trainable": 0, "buffers": 0},
    )
