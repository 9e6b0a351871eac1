"""ONNX pooling (1-D to 3-D): windowed max/average (valid and TF-style same), global pools, both layouts."""

from __future__ import annotations

import numpy as np
import pytest

CASES = {
    "max1d": ("[7, 3]", "{type: MaxPooling1D}"),
    "max1d_same_strides": (
        "[7, 3]",
        "{type: MaxPooling1D, pool_size: 3, strides: 2, padding: same}",
    ),
    "avg1d_free_length_same": (
        "[null, 2]",
        "{type: AveragePooling1D, pool_size: 2, padding: same}",
    ),
    "avg1d_channels_first": ("[3, 8]", "{type: AveragePooling1D, data_format: channels_first}"),
    "max2d": ("[6, 5, 2]", "{type: MaxPooling2D}"),
    "max2d_same": ("[5, 5, 2]", "{type: MaxPooling2D, pool_size: 3, strides: 2, padding: same}"),
    "avg2d_same_rect": (
        "[5, 7, 2]",
        "{type: AveragePooling2D, pool_size: [2, 3], strides: [1, 2], padding: same}",
    ),
    "avg2d_channels_first": (
        "[2, 6, 6]",
        "{type: AveragePooling2D, pool_size: 3, data_format: channels_first}",
    ),
    "max3d_same": (
        "[5, 6, 4, 2]",
        "{type: MaxPooling3D, pool_size: [2, 3, 2], strides: 2, padding: same}",
    ),
    "avg3d_same_excludes_padding": (
        "[5, 6, 4, 2]",
        "{type: AveragePooling3D, pool_size: 3, strides: [2, 2, 1], padding: same}",
    ),
    "avg3d_channels_first": (
        "[2, 4, 6, 5]",
        "{type: AveragePooling3D, data_format: channels_first}",
    ),
    "gap3d": ("[3, 4, 2, 2]", "{type: GlobalAveragePooling3D}"),
    "gmp3d_channels_first_keepdims": (
        "[2, 3, 4, 2]",
        "{type: GlobalMaxPooling3D, data_format: channels_first, keepdims: true}",
    ),
    "gap1d": ("[null, 3]", "{type: GlobalAveragePooling1D}"),
    "gmp1d_keepdims": ("[5, 3]", "{type: GlobalMaxPooling1D, keepdims: true}"),
    "gap2d": ("[4, 5, 3]", "{type: GlobalAveragePooling2D}"),
    "gmp2d_channels_first_keepdims": (
        "[3, 4, 5]",
        "{type: GlobalMaxPooling2D, data_format: channels_first, keepdims: true}",
    ),
}


def body(case: str) -> str:
    shape, layer = CASES[case]
    return f"inputs: [{{name: x, shape: {shape}}}]\nlayers: [{layer}]\n"


@pytest.mark.parametrize("case", sorted(CASES))
def test_pooling_layer(case: str, check) -> None:
    check(body(case))


def test_average_pooling_same_leaves_the_padding_out(forward) -> None:
    x = np.arange(1, 8, dtype=np.float32).reshape(1, 7, 1)
    layer = "{type: AveragePooling1D, pool_size: 3, strides: 2, padding: same}"
    (y,) = forward(f"inputs: [{{name: x, shape: [7, 1]}}]\nlayers: [{layer}]\n", {"x": x})
    # TF pads one element on each side; windows [1,2], [2,3,4], [4,5,6], [6,7].
    np.testing.assert_allclose(y[0, :, 0], [1.5, 3.0, 5.0, 6.5])


def test_max_pooling_same_pads_at_the_end(forward) -> None:
    x = -np.arange(1, 6, dtype=np.float32).reshape(1, 1, 5)
    layer = (
        "{type: MaxPooling1D, pool_size: 2, strides: 1, padding: same, data_format: channels_first}"
    )
    (y,) = forward(f"inputs: [{{name: x, shape: [1, 5]}}]\nlayers: [{layer}]\n", {"x": x})
    np.testing.assert_allclose(y[0, 0], [-1, -2, -3, -4, -5])


def test_global_pools_reduce_the_spatial_axes(forward) -> None:
    x = np.random.default_rng(0).standard_normal((2, 3, 4, 5)).astype(np.float32)
    (y,) = forward(body("gmp2d_channels_first_keepdims"), {"x": x})
    np.testing.assert_allclose(y, x.max(axis=(2, 3), keepdims=True))
    x = x.reshape(2, 4, 5, 3)
    (y,) = forward(body("gap2d"), {"x": x})
    # float32 sums in another order than numpy's: atol + rtol.
    np.testing.assert_allclose(y, x.mean(axis=(1, 2)), rtol=1e-6, atol=1e-7)


def test_pooling_3d_matches_numpy(forward) -> None:
    """AveragePooling3D with TF's "same": padding left out of each average; then max, global."""
    x = np.random.default_rng(1).standard_normal((2, 3, 4, 5, 2)).astype(np.float32)
    layer = "{type: AveragePooling3D, pool_size: 2, strides: 2, padding: same}"
    (y,) = forward(f"inputs: [{{name: x, shape: [3, 4, 5, 2]}}]\nlayers: [{layer}]\n", {"x": x})
    expected = np.zeros((2, 2, 2, 3, 2), np.float32)
    for i, j, k in np.ndindex(2, 2, 3):  # windows at the far ends hold the real elements only
        window = x[:, 2 * i : 2 * i + 2, 2 * j : 2 * j + 2, 2 * k : 2 * k + 2]
        expected[:, i, j, k] = window.mean(axis=(1, 2, 3))
    np.testing.assert_allclose(y, expected, rtol=1e-5, atol=1e-6)
    z = np.random.default_rng(2).standard_normal((2, 2, 3, 4, 2)).astype(np.float32)
    (y,) = forward(body("gmp3d_channels_first_keepdims"), {"x": z})
    np.testing.assert_allclose(y, z.max(axis=(2, 3, 4), keepdims=True))
