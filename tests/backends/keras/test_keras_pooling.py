"""Max/AveragePooling1D/2D/3D and the global poolings, both layouts; same-padded averages
leave the padding out of the mean."""

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
