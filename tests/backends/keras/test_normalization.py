"""BatchNormalization (inference on moving statistics, any feature axis) and
LayerNormalization (one or several axes), with the spec's epsilon."""

from __future__ import annotations

import numpy as np
import pytest

from tests.backends.keras.harness import check_spec, one_layer

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
]


@pytest.mark.parametrize(("layer", "shape"), CASES, ids=[c[0] for c in CASES])
def test_normalization_layer(layer: str, shape: str) -> None:
    check_spec(one_layer(layer, shape))


def test_batchnorm_uses_moving_statistics_at_inference() -> None:
    case = check_spec(
        one_layer("{name: bn, type: BatchNormalization, axis: 1, epsilon: 0.01}", "[3, 2]")
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
    case = check_spec(one_layer("{type: LayerNormalization, axis: [1, 2], epsilon: 0.5}", "[3, 4]"))
    x = case.inputs["x"]
    mean = x.mean(axis=(1, 2), keepdims=True)
    var = x.var(axis=(1, 2), keepdims=True)
    np.testing.assert_allclose(case.outputs[0], (x - mean) / np.sqrt(var + 0.5), atol=1e-5)
