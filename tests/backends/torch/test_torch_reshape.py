"""Reshaping layers in PyTorch: Flatten (Keras's row-major order), Reshape, Permute, zero
padding (1-D/2-D/3-D), cropping, nearest and bilinear upsampling in both layouts, and
RepeatVector; values against numpy (bilinear against TensorFlow's half-pixel resize)."""

from __future__ import annotations

import numpy as np
import pytest

from tests.harness import check_spec, one_layer

CASES = {
    "flatten": ("{type: Flatten}", "[3, 4, 2]", ""),
    "reshape": ("{type: Reshape, target_shape: [4, -1]}", "[3, 4, 2]", ""),
    "permute": ("{type: Permute, dims: [3, 1, 2]}", "[3, 4, 2]", ""),
    "zero_padding": ("{type: ZeroPadding2D}", "[3, 4, 2]", ""),
    "zero_padding_pairs": ("{type: ZeroPadding2D, padding: [[1, 2], [0, 3]]}", "[3, 4, 2]", ""),
    "zero_padding_channels_first": (
        "{type: ZeroPadding2D, padding: [1, 2]}",
        "[2, 3, 4]",
        "channels_first",
    ),
    "zero_pad_alias": ("{type: ZeroPad2d, padding: 2}", "[3, 4, 2]", ""),
    "zero_padding1d": ("{type: ZeroPadding1D, padding: [1, 3]}", "[null, 2]", ""),
    "zero_padding1d_channels_first": ("{type: ZeroPadding1D}", "[2, 5]", "channels_first"),
    "zero_padding3d": ("{type: ZeroPadding3D, padding: [[1, 0], [0, 2], 1]}", "[2, 3, 4, 2]", ""),
    "zero_padding3d_channels_first": (
        "{type: ZeroPadding3D, padding: [1, 0, 2]}",
        "[2, 2, 3, 4]",
        "channels_first",
    ),
    "cropping1d": ("{type: Cropping1D, cropping: [1, 2]}", "[6, 2]", ""),
    "cropping1d_free": ("{type: Cropping1D}", "[null, 2]", ""),
    "cropping2d": ("{type: Cropping2D, cropping: [[1, 0], [2, 1]]}", "[5, 6, 2]", ""),
    "cropping2d_channels_first": ("{type: Cropping2D, cropping: 1}", "[2, 5, 6]", "channels_first"),
    "upsampling1d": ("{type: UpSampling1D, size: 3}", "[null, 2]", ""),
    "upsampling2d": ("{type: UpSampling2D, size: [2, 3]}", "[3, 4, 2]", ""),
    "upsampling2d_channels_first": ("{type: UpSampling2D}", "[2, 3, 4]", "channels_first"),
    "upsampling2d_bilinear": (
        "{type: UpSampling2D, size: [2, 3], interpolation: bilinear}",
        "[3, 4, 2]",
        "",
    ),
    "upsampling2d_bilinear_channels_first": (
        "{type: UpSampling2D, size: 4, interpolation: bilinear}",
        "[2, 3, 5]",
        "channels_first",
    ),
    "repeat_vector": ("{type: RepeatVector, n: 3}", "[4]", ""),
}


@pytest.mark.parametrize("layer,shape,data_format", CASES.values(), ids=CASES.keys())
def test_reshape_layer(layer: str, shape: str, data_format: str) -> None:
    check_spec(one_layer(layer, shape, data_format), "torch")


def test_values_follow_numpy() -> None:
    x = np.arange(24, dtype=np.float32).reshape(1, 3, 4, 2)
    flatten = check_spec(one_layer(CASES["flatten"][0], "[3, 4, 2]"), "torch").run(x=x)[0]
    np.testing.assert_array_equal(flatten, x.reshape(1, -1))
    permute = check_spec(one_layer(CASES["permute"][0], "[3, 4, 2]"), "torch").run(x=x)[0]
    np.testing.assert_array_equal(permute, x.transpose(0, 3, 1, 2))
    padded = check_spec(one_layer(CASES["zero_padding_pairs"][0], "[3, 4, 2]"), "torch").run(x=x)[0]
    np.testing.assert_array_equal(padded, np.pad(x, ((0, 0), (1, 2), (0, 3), (0, 0))))
    first = check_spec(
        one_layer(CASES["zero_padding_channels_first"][0], "[2, 3, 4]", "channels_first"), "torch"
    )
    y = x.reshape(1, 2, 3, 4)
    np.testing.assert_array_equal(first.run(x=y)[0], np.pad(y, ((0, 0), (0, 0), (1, 1), (2, 2))))


def test_padding_cropping_upsampling_values() -> None:
    x = np.arange(24, dtype=np.float32).reshape(2, 6, 2)
    pad = check_spec(one_layer(CASES["zero_padding1d"][0], "[null, 2]"), "torch").run(x=x)[0]
    np.testing.assert_array_equal(pad, np.pad(x, ((0, 0), (1, 3), (0, 0))))
    crop = check_spec(one_layer(CASES["cropping1d"][0], "[6, 2]"), "torch").run(x=x)[0]
    np.testing.assert_array_equal(crop, x[:, 1:4])
    up = check_spec(one_layer(CASES["upsampling1d"][0], "[null, 2]"), "torch").run(x=x)[0]
    np.testing.assert_array_equal(up, np.repeat(x, 3, axis=1))
    v = x[:, 0]
    repeated = check_spec(one_layer("{type: RepeatVector, n: 3}", "[2]"), "torch").run(x=v)[0]
    np.testing.assert_array_equal(repeated, np.stack([v] * 3, axis=1))


def test_image_padding_cropping_upsampling_values_channels_first() -> None:
    x = np.arange(60, dtype=np.float32).reshape(1, 2, 5, 6)
    crop = check_spec(
        one_layer(CASES["cropping2d_channels_first"][0], "[2, 5, 6]", "channels_first"), "torch"
    )
    np.testing.assert_array_equal(crop.run(x=x)[0], x[:, :, 1:4, 1:5])
    up = check_spec(
        one_layer(CASES["upsampling2d_channels_first"][0], "[2, 5, 6]", "channels_first"), "torch"
    )
    np.testing.assert_array_equal(up.run(x=x)[0], x.repeat(2, axis=2).repeat(2, axis=3))
    y = x.reshape(1, 2, 5, 3, 2)
    pad = check_spec(
        one_layer(CASES["zero_padding3d_channels_first"][0], "[2, 5, 3, 2]", "channels_first"),
        "torch",
    )
    expected = np.pad(y, ((0, 0), (0, 0), (1, 1), (0, 0), (2, 2)))
    np.testing.assert_array_equal(pad.run(x=y)[0], expected)


def half_pixel_resize(x: np.ndarray, factor: int, axis: int) -> np.ndarray:
    """TensorFlow's bilinear resize of one axis by an integer factor: source coordinate
    ``(o + 0.5) / factor - 0.5``, clamped at the first element, blended with the next."""
    n = x.shape[axis]
    src = np.maximum((np.arange(n * factor) + 0.5) / factor - 0.5, 0.0)
    low = np.floor(src).astype(int)
    high = np.minimum(low + 1, n - 1)
    frac = (src - low).reshape([-1 if a == axis else 1 for a in range(x.ndim)])
    return np.take(x, low, axis=axis) * (1 - frac) + np.take(x, high, axis=axis) * frac


def test_bilinear_upsampling_is_half_pixel() -> None:
    case = check_spec(one_layer(CASES["upsampling2d_bilinear"][0], "[3, 4, 2]"), "torch")
    x = case.inputs["x"]
    expected = half_pixel_resize(half_pixel_resize(x, 2, 1), 3, 2)
    np.testing.assert_allclose(case.run(x=x)[0], expected, rtol=1e-5, atol=1e-6)
