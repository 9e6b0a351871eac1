"""Pooling in PyTorch (1-D, 2-D and 3-D): windows with strides and TensorFlow's same padding
(average leaving the padding out), both layouts, and the global forms with and without
keepdims."""

from __future__ import annotations

import numpy as np
import pytest

from tests.harness import check_spec, one_layer

CASES = {
    "max1d": ("{type: MaxPooling1D}", "[9, 3]", ""),
    "max1d_same_stride": (
        "{type: MaxPooling1D, pool_size: 3, strides: 2, padding: same}",
        "[8, 3]",
        "",
    ),
    "avg1d_free_length": ("{type: AveragePooling1D, pool_size: 2, padding: same}", "[null, 3]", ""),
    "max2d_same": (
        "{type: MaxPooling2D, pool_size: 3, strides: 2, padding: same}",
        "[7, 6, 2]",
        "",
    ),
    "avg2d_valid_strides": (
        "{type: AveragePooling2D, pool_size: [3, 2], strides: [1, 2]}",
        "[7, 6, 2]",
        "",
    ),
    "avg2d_channels_first": (
        "{type: AveragePooling2D, padding: same}",
        "[2, 5, 5]",
        "channels_first",
    ),
    "max2d_alias": ("{type: MaxPool2d}", "[4, 4, 1]", ""),
    "gap1d": ("{type: GlobalAveragePooling1D}", "[null, 3]", ""),
    "gmp1d_keepdims": ("{type: GlobalMaxPooling1D, keepdims: true}", "[6, 3]", ""),
    "gap2d_channels_first": ("{type: GlobalAveragePooling2D}", "[3, 4, 5]", "channels_first"),
    "gmp2d_keepdims_channels_first": (
        "{type: GlobalMaxPooling2D, keepdims: true}",
        "[3, 4, 5]",
        "channels_first",
    ),
    "gmp2d": ("{type: GlobalMaxPooling2D}", "[4, 5, 3]", ""),
    "max3d": ("{type: MaxPooling3D}", "[4, 5, 4, 2]", ""),
    "max3d_same_stride": (
        "{type: MaxPooling3D, pool_size: [3, 2, 3], strides: 2, padding: same}",
        "[5, 6, 7, 2]",
        "",
    ),
    "avg3d_same": ("{type: AveragePooling3D, padding: same}", "[3, 3, 5, 1]", ""),
    "avg3d_channels_first": ("{type: AveragePooling3D}", "[2, 4, 4, 5]", "channels_first"),
    "gap3d_keepdims": ("{type: GlobalAveragePooling3D, keepdims: true}", "[3, 4, 5, 2]", ""),
    "gmp3d_channels_first": ("{type: GlobalMaxPooling3D}", "[2, 3, 4, 5]", "channels_first"),
}


@pytest.mark.parametrize("layer,shape,data_format", CASES.values(), ids=CASES.keys())
def test_pooling_layer(layer: str, shape: str, data_format: str) -> None:
    check_spec(one_layer(layer, shape, data_format), "torch")


def test_average_pooling_same_leaves_padding_out() -> None:
    case = check_spec(
        one_layer("{type: AveragePooling2D, pool_size: 2, padding: same}", "[3, 3, 1]"), "torch"
    )
    x = np.arange(9, dtype=np.float32).reshape(1, 3, 3, 1)
    (out,) = case.run(x=x)
    # TensorFlow pads one row and column at the end; the last windows average fewer values.
    expected = [[(0 + 1 + 3 + 4) / 4, (2 + 5) / 2], [(6 + 7) / 2, 8]]
    np.testing.assert_allclose(out[0, :, :, 0], expected)


def test_max_pooling_same_never_picks_the_padding() -> None:
    case = check_spec(
        one_layer("{type: MaxPooling1D, pool_size: 3, strides: 2, padding: same}", "[4, 1]"),
        "torch",
    )
    x = -np.arange(1, 5, dtype=np.float32).reshape(1, 4, 1)  # all negative: zero padding would win
    (out,) = case.run(x=x)
    # out = 2, pads (0, 1): windows [0:3] and [2:4]
    np.testing.assert_allclose(out[0, :, 0], [-1.0, -3.0])


def test_average_pooling3d_same_leaves_padding_out() -> None:
    case = check_spec(one_layer("{type: AveragePooling3D, padding: same}", "[3, 1, 1, 1]"), "torch")
    x = np.array([1.0, 2.0, 6.0], dtype=np.float32).reshape(1, 3, 1, 1, 1)
    (out,) = case.run(x=x)
    # depth 3 in windows of 2: [1, 2] and [6] (padding at the end, left out of the count)
    np.testing.assert_allclose(out.reshape(-1), [1.5, 6.0])


def test_global_pooling3d_values() -> None:
    case = check_spec(
        one_layer(CASES["gmp3d_channels_first"][0], "[2, 3, 4, 5]", "channels_first"), "torch"
    )
    x = case.inputs["x"]
    np.testing.assert_array_equal(case.outputs[0], x.max(axis=(2, 3, 4)))
