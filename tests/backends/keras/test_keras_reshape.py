"""Flatten (memory order of the spec's layout, channels_first too), Reshape, Permute, zero
padding in 1-D/2-D/3-D and every padding form, cropping, upsampling (nearest and Keras's
half-pixel bilinear) and RepeatVector, against numpy."""

from __future__ import annotations

import numpy as np
import pytest

from tests.harness import check_spec, one_layer

pytestmark = pytest.mark.keras

CASES = [
    ("{type: Flatten}", "[3, 4, 2]", ""),
    ("{type: Reshape, target_shape: [2, -1]}", "[3, 4]", ""),
    ("{type: Reshape, target_shape: [12]}", "[3, 4]", ""),
    ("{type: Permute, dims: [2, 1]}", "[3, 4]", ""),
    ("{type: Permute, dims: [3, 1, 2]}", "[2, 3, 4]", ""),
    ("{type: ZeroPadding2D}", "[4, 5, 2]", ""),
    ("{type: ZeroPadding2D, padding: [1, 2]}", "[4, 5, 2]", ""),
    ("{type: ZeroPadding2D, padding: [[0, 1], [2, 3]]}", "[4, 5, 2]", ""),
    ("{type: ZeroPadding2D, padding: [[0, 1], [2, 3]]}", "[2, 4, 5]", "channels_first"),
    ("{type: ZeroPadding1D}", "[4, 3]", ""),
    ("{type: ZeroPadding1D, padding: [0, 2]}", "[4, 3]", ""),
    ("{type: ZeroPadding3D}", "[2, 3, 4, 2]", ""),
    ("{type: ZeroPadding3D, padding: [1, [0, 2], 0]}", "[2, 2, 3, 4]", "channels_first"),
    ("{type: Cropping1D}", "[5, 3]", ""),
    ("{type: Cropping1D, cropping: [0, 2]}", "[5, 3]", ""),
    ("{type: Cropping2D, cropping: 1}", "[4, 5, 2]", ""),
    ("{type: Cropping2D, cropping: [[1, 0], [0, 2]]}", "[2, 4, 5]", "channels_first"),
    ("{type: UpSampling1D, size: 3}", "[4, 3]", ""),
    ("{type: UpSampling2D}", "[3, 4, 2]", ""),
    ("{type: UpSampling2D, size: [1, 3], interpolation: bilinear}", "[3, 4, 2]", ""),
    ("{type: UpSampling2D, size: [2, 3], interpolation: bilinear}", "[2, 3, 4]", "channels_first"),
    ("{type: RepeatVector, n: 3}", "[4]", ""),
]


@pytest.mark.parametrize(("layer", "shape", "data_format"), CASES)
def test_reshape_layer(layer: str, shape: str, data_format: str) -> None:
    check_spec(one_layer(layer, shape, data_format), "keras")


@pytest.mark.parametrize("data_format", ["channels_last", "channels_first"])
def test_flatten_keeps_the_spec_memory_order(data_format: str) -> None:
    case = check_spec(one_layer("{type: Flatten}", "[2, 3, 4]", data_format), "keras")
    x = case.inputs["x"]
    np.testing.assert_array_equal(case.outputs[0], x.reshape(len(x), -1))


def test_permute_and_padding_values() -> None:
    spec = """
name: t
data_format: channels_first
inputs:
  - {name: x, shape: [2, 3, 4]}
layers:
  - {name: p, type: Permute, dims: [2, 3, 1], inputs: x}
  - {name: z, type: ZeroPadding2D, padding: [[0, 1], [2, 0]], inputs: x}
outputs: [p, z]
"""
    case = check_spec(spec, "keras")
    x = case.inputs["x"]
    permuted, padded = case.outputs
    np.testing.assert_array_equal(permuted, np.transpose(x, (0, 2, 3, 1)))
    np.testing.assert_array_equal(padded, np.pad(x, ((0, 0), (0, 0), (0, 1), (2, 0))))


def _bilinear_axis(x: np.ndarray, axis: int, factor: int) -> np.ndarray:
    """Half-pixel-centre linear interpolation along ``axis`` (tf.image.resize bilinear, no
    antialiasing; PyTorch align_corners=False; ONNX Resize half_pixel linear)."""
    n = x.shape[axis]
    source = np.maximum((np.arange(n * factor) + 0.5) / factor - 0.5, 0)
    low = np.floor(source).astype(int)
    high = np.minimum(low + 1, n - 1)
    weight = (source - low).reshape([-1 if a == axis else 1 for a in range(x.ndim)])
    return np.take(x, low, axis) * (1 - weight) + np.take(x, high, axis) * weight


def test_reshape_values() -> None:
    spec = """
name: t
inputs:
  - {name: img, shape: [3, 4, 2]}
  - {name: seq, shape: [5, 2]}
  - {name: vol, shape: [2, 3, 2, 2]}
  - {name: vec, shape: [3]}
layers:
  - {name: pad1, type: ZeroPadding1D, padding: [2, 1], inputs: seq}
  - {name: pad3, type: ZeroPadding3D, padding: [[1, 0], 0, [0, 2]], inputs: vol}
  - {name: crop1, type: Cropping1D, cropping: [1, 2], inputs: seq}
  - {name: crop2, type: Cropping2D, cropping: [[1, 1], [0, 2]], inputs: img}
  - {name: up1, type: UpSampling1D, size: 2, inputs: seq}
  - {name: near, type: UpSampling2D, size: [2, 3], inputs: img}
  - {name: lin, type: UpSampling2D, size: [2, 3], interpolation: bilinear, inputs: img}
  - {name: rep, type: RepeatVector, n: 2, inputs: vec}
outputs: [pad1, pad3, crop1, crop2, up1, near, lin, rep]
"""
    case = check_spec(spec, "keras")
    img, seq, vol, vec = (case.inputs[k] for k in ("img", "seq", "vol", "vec"))
    expected = [
        np.pad(seq, ((0, 0), (2, 1), (0, 0))),
        np.pad(vol, ((0, 0), (1, 0), (0, 0), (0, 2), (0, 0))),
        seq[:, 1:-2],
        img[:, 1:-1, :-2],
        np.repeat(seq, 2, axis=1),
        np.repeat(np.repeat(img, 2, axis=1), 3, axis=2),
        _bilinear_axis(_bilinear_axis(img, 1, 2), 2, 3),
        np.stack([vec, vec], axis=1),
    ]
    for out, want in zip(case.outputs, expected, strict=True):
        np.testing.assert_allclose(out, want, atol=1e-6)
