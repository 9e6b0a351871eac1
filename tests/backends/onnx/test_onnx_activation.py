"""ONNX activation layers (Activation, ReLU, LeakyReLU, Softmax, ELU, PReLU) and the activation
table, checked against numpy references."""

from __future__ import annotations

import numpy as np
import pytest

from backends.onnx.activation import ACTIVATIONS
from tests.references import ACTIVATIONS as ACTIVATION_REFERENCES
from translator.spec.schema import ACTIVATIONS as SPEC_ACTIVATIONS

REFERENCE = ACTIVATION_REFERENCES  # Keras's definitions (tests/references.py)
X = np.linspace(-7, 7, 24, dtype=np.float32).reshape(2, 3, 4)
ONE_INPUT = "inputs: [{name: x, shape: [3, 4]}]\n"


def test_every_spec_activation_has_a_builder_and_a_reference() -> None:
    assert set(ACTIVATIONS) == set(SPEC_ACTIVATIONS) == set(REFERENCE)


@pytest.mark.parametrize("name", sorted(REFERENCE))
def test_activation_matches_keras(name: str, check, forward) -> None:
    body = ONE_INPUT + f"layers: [{{type: Activation, activation: {name}}}]\n"
    check(body)
    (y,) = forward(body, {"x": X})
    np.testing.assert_allclose(y, REFERENCE[name](X.astype(np.float64)), rtol=1e-5, atol=1e-6)


def _keras_relu(x: np.ndarray, max_value: float | None, slope: float, threshold: float):
    y = np.where(x > threshold, x, 0) if threshold else np.maximum(x, 0)
    if max_value is not None:
        y = np.clip(y, 0, max_value)
    return y - slope * np.maximum(threshold - x, 0)


RELU_CASES = {
    "plain": (None, 0.0, 0.0),
    "relu6": (6.0, 0.0, 0.0),
    "capped": (2.5, 0.0, 0.0),
    "leaky": (None, 0.1, 0.0),
    "threshold": (None, 0.0, 1.5),
    "all": (4.0, 0.2, 0.5),
}


@pytest.mark.parametrize("case", sorted(RELU_CASES))
def test_relu_arguments(case: str, check, forward) -> None:
    top, slope, threshold = RELU_CASES[case]
    cap = "null" if top is None else top
    body = ONE_INPUT + (
        f"layers: [{{type: ReLU, max_value: {cap}, negative_slope: {slope},"
        f" threshold: {threshold}}}]\n"
    )
    check(body)
    (y,) = forward(body, {"x": X})
    np.testing.assert_allclose(y, _keras_relu(X, top, slope, threshold), rtol=1e-6)


def test_leaky_relu_uses_the_spec_slope(check, forward) -> None:
    body = ONE_INPUT + "layers: [{type: LeakyReLU}]\n"
    check(body)
    (y,) = forward(body, {"x": X})
    np.testing.assert_allclose(y, np.where(X >= 0, X, 0.3 * X), rtol=1e-6)


@pytest.mark.parametrize("axis", ["-1", "1", "[1]", "[1, 2]"])
def test_softmax_axes(axis: str, check, forward) -> None:
    body = ONE_INPUT + f"layers: [{{type: Softmax, axis: {axis}}}]\n"
    check(body)
    (y,) = forward(body, {"x": X})
    axes = (1, 2) if axis == "[1, 2]" else (int(axis.strip("[]")) % 3,)
    e = np.exp(X - X.max(axis=axes, keepdims=True))
    np.testing.assert_allclose(y, e / e.sum(axis=axes, keepdims=True), rtol=1e-5, atol=1e-7)


@pytest.mark.parametrize("alpha", [1.0, 0.3])
def test_elu_alpha(alpha: float, check, forward) -> None:
    body = ONE_INPUT + f"layers: [{{type: ELU, alpha: {alpha}}}]\n"
    check(body)
    (y,) = forward(body, {"x": X})
    np.testing.assert_allclose(y, np.where(X > 0, X, alpha * np.expm1(X)), rtol=1e-5, atol=1e-6)


PRELU_CASES = {
    "per_element": ("[3, 4]", "null"),
    "shared_steps_free": ("[null, 4]", "[1]"),
    "shared_image_axes": ("[3, 4, 2]", "[1, 2]"),
}


@pytest.mark.parametrize("case", sorted(PRELU_CASES))
def test_prelu_slope_shape_and_values(case: str, check, load_spec, forward) -> None:
    shape, shared = PRELU_CASES[case]
    body = (
        f"inputs: [{{name: x, shape: {shape}}}]\nlayers: [{{type: PReLU, shared_axes: {shared}}}]\n"
    )
    check(body)
    node = load_spec(body).layers[0]
    rng = np.random.default_rng(8)
    (spec,) = node.weights["onnx"]
    slope = rng.uniform(0.1, 0.5, spec.shape).astype(np.float32)
    x = rng.standard_normal((2, *(5 if d is None else d for d in node.input_shape)))
    x = x.astype(np.float32)
    (y,) = forward(body, {"x": x}, {node.name: {"slope": slope}})
    # Keras: relu(x) - alpha * relu(-x), alpha broadcast over the batch and the shared axes.
    np.testing.assert_allclose(y, np.maximum(x, 0) - slope * np.maximum(-x, 0), rtol=1e-6)
