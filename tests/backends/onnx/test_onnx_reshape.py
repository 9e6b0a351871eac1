"""ONNX Flatten, Reshape, Permute, zero padding, cropping, upsampling (nearest and bilinear)
and RepeatVector, against numpy."""

from __future__ import annotations

import numpy as np
import pytest

CASES = {
    "flatten": ("[2, 3, 4]", "{type: Flatten}"),
    "reshape_inferred": ("[6, 2]", "{type: Reshape, target_shape: [3, -1]}"),
    "reshape_rank_up": ("[12]", "{type: Reshape, target_shape: [2, 3, 2]}"),
    "permute": ("[2, 3, 4]", "{type: Permute, dims: [3, 1, 2]}"),
    "zero_padding_int": ("[3, 4, 2]", "{type: ZeroPadding2D}"),
    "zero_padding_pairs": ("[3, 4, 2]", "{type: ZeroPadding2D, padding: [[0, 2], [1, 3]]}"),
    "zero_padding_channels_first": (
        "[2, 3, 4]",
        "{type: ZeroPadding2D, padding: [1, 2], data_format: channels_first}",
    ),
    "zero_padding1d_pairs": ("[4, 3]", "{type: ZeroPadding1D, padding: [1, 2]}"),
    "zero_padding1d_channels_first": (
        "[3, null]",
        "{type: ZeroPadding1D, padding: 2, data_format: channels_first}",
    ),
    "zero_padding3d": ("[2, 3, 2, 2]", "{type: ZeroPadding3D, padding: [[1, 0], [0, 2], [1, 1]]}"),
    "zero_padding3d_channels_first": (
        "[2, 2, 3, 2]",
        "{type: ZeroPadding3D, data_format: channels_first}",
    ),
    "cropping1d": ("[7, 3]", "{type: Cropping1D, cropping: [2, 1]}"),
    "cropping1d_free_end_zero": ("[null, 3]", "{type: Cropping1D, cropping: [1, 0]}"),
    "cropping2d_pairs": ("[6, 5, 2]", "{type: Cropping2D, cropping: [[1, 2], [0, 1]]}"),
    "cropping2d_channels_first": (
        "[2, 5, 4]",
        "{type: Cropping2D, cropping: 1, data_format: channels_first}",
    ),
    "upsampling1d": ("[4, 3]", "{type: UpSampling1D, size: 3}"),
    "upsampling1d_free": ("[null, 2]", "{type: UpSampling1D}"),
    "upsampling2d_nearest": ("[3, 4, 2]", "{type: UpSampling2D, size: [2, 3]}"),
    "upsampling2d_channels_first": (
        "[2, 3, 4]",
        "{type: UpSampling2D, data_format: channels_first}",
    ),
    "upsampling2d_bilinear": (
        "[3, 4, 2]",
        "{type: UpSampling2D, size: [2, 3], interpolation: bilinear}",
    ),
    "upsampling2d_bilinear_channels_first_free": (
        "[2, null, 5]",
        "{type: UpSampling2D, size: [3, 2], interpolation: bilinear, data_format: channels_first}",
    ),
    "repeat_vector": ("[4]", "{type: RepeatVector, n: 3}"),
}


def body(case: str) -> str:
    shape, layer = CASES[case]
    return f"inputs: [{{name: x, shape: {shape}}}]\nlayers: [{layer}]\n"


@pytest.mark.parametrize("case", sorted(CASES))
def test_reshape_layer(case: str, check) -> None:
    check(body(case))


EXPECTED = {
    "flatten": lambda x: x.reshape(2, -1),
    "reshape_inferred": lambda x: x.reshape(2, 3, 4),
    "reshape_rank_up": lambda x: x.reshape(2, 2, 3, 2),
    "permute": lambda x: x.transpose(0, 3, 1, 2),
    "zero_padding_int": lambda x: np.pad(x, [(0, 0), (1, 1), (1, 1), (0, 0)]),
    "zero_padding_pairs": lambda x: np.pad(x, [(0, 0), (0, 2), (1, 3), (0, 0)]),
    "zero_padding_channels_first": lambda x: np.pad(x, [(0, 0), (0, 0), (1, 1), (2, 2)]),
    "zero_padding1d_pairs": lambda x: np.pad(x, [(0, 0), (1, 2), (0, 0)]),
    "zero_padding3d": lambda x: np.pad(x, [(0, 0), (1, 0), (0, 2), (1, 1), (0, 0)]),
    "zero_padding3d_channels_first": lambda x: np.pad(x, [(0, 0), (0, 0), (1, 1), (1, 1), (1, 1)]),
    "cropping1d": lambda x: x[:, 2:-1],
    "cropping2d_pairs": lambda x: x[:, 1:-2, 0:-1],
    "cropping2d_channels_first": lambda x: x[:, :, 1:-1, 1:-1],
    "upsampling1d": lambda x: np.repeat(x, 3, axis=1),
    "upsampling2d_nearest": lambda x: np.repeat(np.repeat(x, 2, axis=1), 3, axis=2),
    "upsampling2d_channels_first": lambda x: np.repeat(np.repeat(x, 2, axis=2), 2, axis=3),
    "repeat_vector": lambda x: np.stack([x] * 3, axis=1),
}


@pytest.mark.parametrize("case", sorted(EXPECTED))
def test_reshape_values(case: str, load_spec, forward) -> None:
    node = load_spec(body(case)).layers[0]
    x = np.arange(2 * np.prod(node.input_shape), dtype=np.float32).reshape(2, *node.input_shape)
    (y,) = forward(body(case), {"x": x})
    np.testing.assert_array_equal(y, EXPECTED[case](x))


def test_flatten_after_conv_keeps_keras_order(forward, load_spec) -> None:
    text = (
        "inputs: [{name: x, shape: [3, 3, 2]}]\n"
        "layers: [{type: Conv2D, filters: 2, kernel_size: 1, use_bias: false}, {type: Flatten}]\n"
    )
    x = np.random.default_rng(0).standard_normal((2, 3, 3, 2)).astype(np.float32)
    identity = np.eye(2, dtype=np.float32).reshape(2, 2, 1, 1)
    (y,) = forward(text, {"x": x}, {"conv2d": {"W": identity}})
    np.testing.assert_allclose(y, x.reshape(2, -1), rtol=1e-6)


def _half_pixel(size: int, factor: int) -> np.ndarray:
    """tf.image.resize's bilinear weights along one axis: (size·factor, size)."""
    weights = np.zeros((size * factor, size))
    for out in range(size * factor):
        source = max((out + 0.5) / factor - 0.5, 0.0)
        low = int(np.floor(source))
        high, frac = min(low + 1, size - 1), source - low
        weights[out, low] += 1 - frac
        weights[out, high] += frac
    return weights


@pytest.mark.parametrize(
    "case", ["upsampling2d_bilinear", "upsampling2d_bilinear_channels_first_free"]
)
def test_bilinear_upsampling_is_half_pixel(case: str, load_spec, forward) -> None:
    node = load_spec(body(case)).layers[0]
    first = node.args["data_format"] == "channels_first"
    shape = [6 if d is None else d for d in node.input_shape]
    x = np.random.default_rng(3).standard_normal((2, *shape)).astype(np.float32)
    (y,) = forward(body(case), {"x": x})
    image = np.moveaxis(x, 1, -1) if first else x
    rows, cols = (
        _half_pixel(n, f) for n, f in zip(image.shape[1:3], node.args["size"], strict=True)
    )
    expected = np.einsum("ih,jw,bhwc->bijc", rows, cols, image)
    np.testing.assert_allclose(y, np.moveaxis(expected, -1, 1) if first else expected, atol=1e-5)
