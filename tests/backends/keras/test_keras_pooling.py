"""Max/AveragePooling1D/2D/3D and the global poolings, both layouts; same-padded averages
leave the padding out of the mean; PyTorch's ceil_mode windows, exactly."""

from __future__ import annotations

import numpy as np
import pytest

from tests.harness import check_spec, one_layer

pytestmark = pytest.mark.keras

POOL1D = [
    "{type: MaxPooling1D}",
    "{type: MaxPooling1D, pool_size: 3, strides: 1, padding: same}",
    "{type: AveragePooling1D, pool_size: 3, strides: 2, padding: same}",
    "{type: GlobalAveragePooling1D}",
    "{type: GlobalMaxPooling1D, keepdims: true}",
]
POOL2D = [
    "{type: MaxPooling2D, pool_size: [2, 3]}",
    "{type: MaxPooling2D, pool_size: 3, strides: 2, padding: same}",
    "{type: AveragePooling2D}",
    "{type: AveragePooling2D, pool_size: 2, strides: [1, 2], padding: same}",
    "{type: GlobalAveragePooling2D, keepdims: true}",
    "{type: GlobalMaxPooling2D}",
]
POOL3D = [
    "{type: MaxPooling3D}",
    "{type: MaxPooling3D, pool_size: [3, 2, 1], strides: 2, padding: same}",
    "{type: AveragePooling3D, pool_size: [2, 1, 3]}",
    "{type: AveragePooling3D, pool_size: 3, strides: [1, 2, 2], padding: same}",
    "{type: GlobalAveragePooling3D}",
    "{type: GlobalMaxPooling3D, keepdims: true}",
]
CASES = [(c, "[7, 3]", "channels_last") for c in POOL1D]
CASES += [(c, "[3, 7]", "channels_first") for c in POOL1D]
CASES += [(c, "[7, 6, 3]", "channels_last") for c in POOL2D]
CASES += [(c, "[3, 7, 6]", "channels_first") for c in POOL2D]
CASES += [(c, "[5, 4, 6, 2]", "channels_last") for c in POOL3D]
CASES += [(c, "[2, 5, 4, 6]", "channels_first") for c in POOL3D]


@pytest.mark.parametrize(("layer", "shape", "data_format"), CASES)
def test_pooling_layer(layer: str, shape: str, data_format: str) -> None:
    check_spec(one_layer(layer, shape, data_format), "keras")


@pytest.mark.parametrize(
    ("layer", "first_shape"),
    [(c, (3, 7, 6)) for c in POOL2D] + [(c, (2, 5, 4, 6)) for c in POOL3D],
)
def test_channels_first_pools_what_channels_last_pools(
    layer: str, first_shape: tuple[int, ...]
) -> None:
    rank = len(first_shape) - 1
    to_last, to_first = (0, *range(2, rank + 2), 1), (0, rank + 1, *range(1, rank + 1))
    last_shape = [*first_shape[1:], first_shape[0]]
    first = check_spec(one_layer(layer, list(first_shape), "channels_first"), "keras")
    last = check_spec(one_layer(layer, last_shape, "channels_last"), "keras")
    (out_first,) = first.outputs
    (out_last,) = last.run(x=np.transpose(first.inputs["x"], to_last))
    if out_last.ndim == rank + 2:
        out_last = np.transpose(out_last, to_first)
    np.testing.assert_allclose(out_first, out_last, atol=1e-6)


def test_same_padded_average_leaves_the_padding_out() -> None:
    case = check_spec(
        one_layer("{type: AveragePooling1D, pool_size: 2, padding: same}", "[3, 1]"), "keras"
    )
    (out,) = case.run(x=np.array([[[1.0], [2.0], [3.0]]], np.float32))
    np.testing.assert_allclose(out[0, :, 0], [1.5, 3.0])


def test_average_pooling_3d_matches_numpy() -> None:
    case = check_spec(
        one_layer("{type: AveragePooling3D, pool_size: [2, 1, 3]}", "[4, 3, 6, 2]"), "keras"
    )
    x = case.inputs["x"]
    expected = x.reshape(2, 2, 2, 3, 1, 2, 3, 2).mean(axis=(2, 4, 6))
    np.testing.assert_allclose(case.outputs[0], expected, atol=1e-6)


def ceil_mode_windows(x: np.ndarray, kind: str, k: int, s: int, axis: int) -> np.ndarray:
    """PyTorch's ceil_mode pooling along ``axis`` of ``x``, written out: ceil((n − k) / s) + 1
    windows (less one starting past the input), each clipped to the input, an average over
    the elements inside it."""
    n = x.shape[axis]
    out = -(-(n - k) // s) + 1
    out -= (out - 1) * s >= n
    reduce = np.max if kind == "Max" else np.mean
    windows = [np.take(x, range(i * s, min(i * s + k, n)), axis=axis) for i in range(out)]
    return np.stack([reduce(w, axis=axis) for w in windows], axis=axis)


# (kind, length, pool size, stride, data_format): Keras pads the end (−inf for a max; an
# average over counts of the elements inside the input), here checked against the windows.
CEIL_POOLS = [
    ("Max", 9, 2, 2, "channels_last"),
    ("Average", 10, 3, 3, "channels_last"),  # the last window holds one element
    ("Average", 11, 3, 2, "channels_first"),
    ("Max", 8, 2, 2, "channels_last"),  # the windows tile the input: Keras's own layer
    ("Average", 5, 1, 3, "channels_last"),  # a window that would start past it is dropped
]


@pytest.mark.parametrize(("kind", "n", "k", "s", "data_format"), CEIL_POOLS)
def test_ceil_mode_pools_as_pytorch(kind: str, n: int, k: int, s: int, data_format: str) -> None:
    shape = f"[{n}, 2]" if data_format == "channels_last" else f"[2, {n}]"
    layer = f"{{type: {kind}Pooling1D, pool_size: {k}, strides: {s}, ceil_mode: true}}"
    case = check_spec(one_layer(layer, shape, data_format), "keras")
    x = case.inputs["x"]
    axis = 1 if data_format == "channels_last" else 2
    np.testing.assert_allclose(case.outputs[0], ceil_mode_windows(x, kind, k, s, axis), rtol=1e-6)
