"""BatchNormalization (inference on moving statistics, any feature axis), LayerNormalization
(one or several axes), GroupNormalization (any channel axis), RMSNormalization and
UnitNormalization, with the spec's epsilon, against numpy."""

from __future__ import annotations

import numpy as np
import pytest

from tests.harness import check_spec, one_layer

pytestmark = pytest.mark.keras

CASES = [
    ("{type: BatchNormalization}", "[4]"),
    ("{type: BatchNormalization, axis: 1}", "[3, 5, 5]"),
    ("{type: BatchNormalization, axis: [-1], momentum: 0.9, epsilon: 1e-5}", "[null, 4]"),
    ("{type: BatchNormalization, center: false}", "[4]"),
    ("{type: BatchNormalization, scale: false, center: false}", "[2, 4]"),
    ("{type: LayerNormalization}", "[null, 4]"),
    ("{type: LayerNormalization, axis: [1, 2], epsilon: 1e-5}", "[3, 4]"),
    ("{type: LayerNormalization, axis: 1, scale: false}", "[3, 4]"),
    ("{type: GroupNormalization, groups: 2}", "[null, 4]"),
    ("{type: GroupNormalization, groups: 3, axis: 1, center: false}", "[6, 2, 2]"),
    ("{type: GroupNormalization, groups: 1, axis: [-2], scale: false}", "[4, 3]"),
    ("{type: RMSNormalization}", "[null, 4]"),
    ("{type: RMSNormalization, axis: [1, -1], epsilon: 1e-3}", "[3, 4]"),
    ("{type: RMSNormalization, axis: [-1, 2]}", "[2, 3, 4]"),
    ("{type: UnitNormalization}", "[null, 4]"),
    ("{type: UnitNormalization, axis: [1, 2]}", "[3, 4]"),
]


@pytest.mark.parametrize(("layer", "shape"), CASES, ids=[c[0] for c in CASES])
def test_normalization_layer(layer: str, shape: str) -> None:
    check_spec(one_layer(layer, shape), "keras")


def test_batchnorm_uses_moving_statistics_at_inference() -> None:
    case = check_spec(
        one_layer("{name: bn, type: BatchNormalization, axis: 1, epsilon: 0.01}", "[3, 2]"), "keras"
    )
    gamma, beta = np.array([1, 2, 3], np.float32), np.array([0, 1, -1], np.float32)
    mean, var = np.array([0.5, -1, 2], np.float32), np.array([1, 4, 0.25], np.float32)
    case.layer("bn").set_weights([gamma, beta, mean, var])
    x = case.inputs["x"]
    (out,) = case.run(x=x)
    shape = (1, 3, 1)
    expected = (x - mean.reshape(shape)) / np.sqrt(var.reshape(shape) + 0.01)
    np.testing.assert_allclose(
        out, expected * gamma.reshape(shape) + beta.reshape(shape), atol=1e-5
    )


def test_layernorm_normalizes_over_its_axes_with_the_spec_epsilon() -> None:
    case = check_spec(
        one_layer("{type: LayerNormalization, axis: [1, 2], epsilon: 0.5}", "[3, 4]"), "keras"
    )
    x = case.inputs["x"]
    mean = x.mean(axis=(1, 2), keepdims=True)
    var = x.var(axis=(1, 2), keepdims=True)
    np.testing.assert_allclose(case.outputs[0], (x - mean) / np.sqrt(var + 0.5), atol=1e-5)


def _group_norm(x: np.ndarray, groups: int, axis: int, eps: float, gamma, beta) -> np.ndarray:
    """Channels on ``axis`` split into ``groups`` consecutive groups; statistics per example
    and group over the group's channels and every other axis."""
    x = np.moveaxis(x, axis, -1)
    grouped = x.reshape(*x.shape[:-1], groups, -1)
    axes = (*range(1, grouped.ndim - 2), grouped.ndim - 1)
    mean = grouped.mean(axis=axes, keepdims=True)
    var = grouped.var(axis=axes, keepdims=True)
    y = ((grouped - mean) / np.sqrt(var + eps)).reshape(x.shape) * gamma + beta
    return np.moveaxis(y, -1, axis)


@pytest.mark.parametrize(("axis", "shape"), [(-1, "[3, 6]"), (1, "[6, 2, 3]")])
def test_group_norm_matches_numpy(axis: int, shape: str) -> None:
    layer = f"{{name: g, type: GroupNormalization, groups: 3, axis: {axis}, epsilon: 0.01}}"
    case = check_spec(one_layer(layer, shape), "keras")
    rng = np.random.default_rng(6)
    gamma, beta = (
        rng.uniform(0.5, 2, 6).astype(np.float32),
        rng.uniform(-1, 1, 6).astype(np.float32),
    )
    case.layer("g").set_weights([gamma, beta])
    x = case.inputs["x"]
    (out,) = case.run(x=x)
    np.testing.assert_allclose(out, _group_norm(x, 3, axis, 0.01, gamma, beta), atol=1e-5)


@pytest.mark.parametrize(("axis", "axes"), [("-1", (2,)), ("[1, -1]", (1, 2))])
def test_rms_norm_matches_keras_formula(axis: str, axes: tuple[int, ...]) -> None:
    """x · rsqrt(mean(x², axes) + epsilon) · scale, the scale laid out like the input."""
    case = check_spec(
        one_layer(f"{{name: r, type: RMSNormalization, axis: {axis}}}", "[3, 4]"), "keras"
    )
    scale_shape = tuple(case.inputs["x"].shape[a] for a in axes)
    scale = np.random.default_rng(7).uniform(0.5, 2, scale_shape).astype(np.float32)
    case.layer("r").set_weights([scale])
    x = case.inputs["x"]
    (out,) = case.run(x=x)
    expected = x / np.sqrt((x**2).mean(axis=axes, keepdims=True) + 1e-6) * scale
    np.testing.assert_allclose(out, expected, atol=1e-5)


def test_unit_norm_matches_keras_formula() -> None:
    """x · min(rsqrt(sum(x²)), 1e12): an all-zero row stays zero."""
    case = check_spec(one_layer("{type: UnitNormalization, axis: [1, 2]}", "[3, 4]"), "keras")
    x = case.inputs["x"].copy()
    x[1] = 0
    (out,) = case.run(x=x)
    norm = np.sqrt((x**2).sum(axis=(1, 2), keepdims=True))
    np.testing.assert_allclose(out, x / np.maximum(norm, 1e-12), atol=1e-6)
