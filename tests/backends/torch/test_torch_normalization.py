"""Normalization in PyTorch: BatchNormalization on any feature axis and rank with every
center/scale combination, LayerNormalization over trailing and non-trailing axes,
RMSNormalization over the trailing ones (all Keras supports), GroupNormalization on any
channel axis, UnitNormalization; numerics against numpy with the spec's epsilon and momentum."""

from __future__ import annotations

import numpy as np
import pytest

from tests.harness import check_spec, one_layer, set_parameters

CASES = {
    "bn_features": ("{type: BatchNormalization}", "[4]"),
    "bn_sequence": ("{type: BatchNormalization}", "[null, 3]"),
    "bn_image_channels_last": ("{type: BatchNormalization}", "[4, 5, 3]"),
    "bn_image_channels_first": ("{type: BatchNormalization, axis: 1}", "[3, 4, 5]"),
    "bn_middle_axis": ("{type: BatchNormalization, axis: 2}", "[3, 4, 5]"),
    "bn_volume": ("{type: BatchNormalization, axis: -1}", "[2, 3, 4, 5]"),
    "bn_rank6": ("{type: BatchNormalization, axis: 3}", "[2, 2, 3, 2, 2]"),
    "bn_scale_only": ("{type: BatchNormalization, center: false}", "[4]"),
    "bn_center_only": ("{type: BatchNormalization, scale: false}", "[4]"),
    "bn_neither": ("{type: BatchNormalization, center: false, scale: false}", "[4]"),
    "bn_alias": ("{type: BatchNorm2d, axis: 1}", "[3, 4, 4]"),
    "ln_last": ("{type: LayerNormalization}", "[null, 4]"),
    "ln_trailing_two": ("{type: LayerNormalization, axis: [-2, -1]}", "[3, 4]"),
    "ln_not_trailing": ("{type: LayerNormalization, axis: 1}", "[3, 4, 5]"),
    "ln_split_axes": ("{type: LayerNormalization, axis: [1, 3]}", "[3, 4, 5]"),
    "ln_scale_only": ("{type: LayerNormalization, center: false}", "[4]"),
    "ln_center_only": ("{type: LayerNormalization, scale: false}", "[4]"),
    "ln_neither": ("{type: LayerNormalization, center: false, scale: false}", "[4]"),
    "gn_features": ("{type: GroupNormalization, groups: 2}", "[6]"),
    "gn_sequence": ("{type: GroupNormalization, groups: 2}", "[null, 4]"),
    "gn_channels_first": ("{type: GroupNormalization, groups: 3, axis: 1}", "[6, 4, 5]"),
    "gn_scale_only": ("{type: GroupNormalization, groups: 1, center: false}", "[4, 3]"),
    "gn_center_only": ("{type: GroupNormalization, groups: 3, scale: false}", "[4, 3]"),
    "gn_neither": ("{type: GroupNormalization, groups: 3, scale: false, center: false}", "[3]"),
    "rms_last": ("{type: RMSNormalization}", "[null, 4]"),
    "rms_trailing_two": ("{type: RMSNormalization, axis: [-2, -1]}", "[3, 4]"),
    "rms_positive_axes": ("{type: RMSNormalization, axis: [2, 3]}", "[3, 4, 2]"),
    "unit_last": ("{type: UnitNormalization}", "[null, 4]"),
    "unit_two_axes": ("{type: UnitNormalization, axis: [1, 2]}", "[3, 4]"),
}


@pytest.mark.parametrize("layer,shape", CASES.values(), ids=CASES.keys())
def test_normalization_layer(layer: str, shape: str) -> None:
    check_spec(one_layer(layer, shape), "torch")


def test_batch_norm_carries_keras_momentum_and_epsilon() -> None:
    case = check_spec(
        one_layer("{type: BatchNormalization, momentum: 0.9, epsilon: 0.01}", "[4]"), "torch"
    )
    module = case.module("batch_normalization")
    assert module.momentum == pytest.approx(0.1)
    assert module.eps == 0.01


def test_batch_norm_uses_running_statistics_on_any_axis() -> None:
    case = check_spec(
        one_layer("{type: BatchNormalization, axis: 2, epsilon: 0.01}", "[3, 4, 5]"), "torch"
    )
    mean, var = np.arange(4, dtype=np.float32), np.arange(1, 5, dtype=np.float32)
    gamma, beta = np.full(4, 2.0, np.float32), np.full(4, 0.5, np.float32)
    module = case.module("batch_normalization")
    set_parameters(module, running_mean=mean, running_var=var, weight=gamma, bias=beta)
    x = case.inputs["x"]
    (out,) = case.run(x=x)
    b = (None, None, slice(None), None)  # broadcast along axis 2 of (batch, 3, 4, 5)
    expected = (x - mean[b]) / np.sqrt(var[b] + 0.01) * gamma[b] + beta[b]
    np.testing.assert_allclose(out, expected, rtol=1e-5, atol=1e-5)


def test_layer_norm_over_non_trailing_axes() -> None:
    case = check_spec(
        one_layer("{type: LayerNormalization, axis: [1, 3], epsilon: 0.01}", "[3, 4, 5]"), "torch"
    )
    gamma = np.arange(15, dtype=np.float32).reshape(3, 5) / 10
    set_parameters(case.module("layer_normalization"), weight=gamma, bias=0.25)
    x = case.inputs["x"]
    (out,) = case.run(x=x)
    mean = x.mean(axis=(1, 3), keepdims=True)
    var = x.var(axis=(1, 3), keepdims=True)
    expected = (x - mean) / np.sqrt(var + 0.01) * gamma[:, None, :] + 0.25
    np.testing.assert_allclose(out, expected, rtol=1e-5, atol=1e-5)


def test_group_norm_on_a_channels_first_axis() -> None:
    case = check_spec(
        one_layer("{type: GroupNormalization, groups: 3, axis: 1, epsilon: 0.1}", "[6, 4, 5]"),
        "torch",
    )
    gamma, beta = np.arange(6, dtype=np.float32) / 4, np.arange(6, dtype=np.float32) - 2
    set_parameters(case.module("group_normalization"), weight=gamma, bias=beta)
    x = case.inputs["x"]
    (out,) = case.run(x=x)
    groups = x.reshape(2, 3, 2, 4, 5)  # contiguous channels: group g holds 2g and 2g + 1
    mean = groups.mean(axis=(2, 3, 4), keepdims=True)
    var = groups.var(axis=(2, 3, 4), keepdims=True)
    normed = ((groups - mean) / np.sqrt(var + 0.1)).reshape(x.shape)
    expected = normed * gamma[:, None, None] + beta[:, None, None]
    np.testing.assert_allclose(out, expected, rtol=1e-5, atol=1e-5)


def test_rms_norm_over_the_trailing_axes() -> None:
    case = check_spec(
        one_layer("{type: RMSNormalization, axis: [2, 3], epsilon: 0.5}", "[3, 4, 2]"), "torch"
    )
    scale = np.arange(8, dtype=np.float32).reshape(4, 2) / 4
    set_parameters(case.module("rms_normalization"), weight=scale)
    x = case.inputs["x"]
    (out,) = case.run(x=x)
    expected = x / np.sqrt((x * x).mean(axis=(2, 3), keepdims=True) + 0.5) * scale
    np.testing.assert_allclose(out, expected, rtol=1e-5, atol=1e-6)


def test_unit_norm_and_its_epsilon() -> None:
    case = check_spec(one_layer("{type: UnitNormalization, axis: [1, 2]}", "[3, 4]"), "torch")
    x = case.inputs["x"]
    x[1] = 0.0  # Keras caps 1 / norm at 1e12, so zeros stay zeros
    (out,) = case.run(x=x)
    norm = np.sqrt((x[:1] ** 2).sum())
    np.testing.assert_allclose(out[0], x[0] / norm, rtol=1e-5)
    np.testing.assert_array_equal(out[1], 0.0)
