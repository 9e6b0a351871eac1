"""Max/AveragePooling1D/2D and the global poolings, both layouts; same-padded averages leave
the padding out of the mean."""

from __future__ import annotations

import numpy as np
import pytest

from tests.backends.keras.harness import check_spec, one_layer

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
CASES = [(c, "[7, 3]", "channels_last") for c in POOL1D]
CASES += [(c, "[3, 7]", "channels_first") for c in POOL1D]
CASES += [(c, "[7, 6, 3]", "channels_last") for c in POOL2D]
CASES += [(c, "[3, 7, 6]", "channels_first") for c in POOL2D]


@pytest.mark.parametrize(("layer", "shape", "data_format"), CASES)
def test_pooling_layer(layer: str, shape: str, data_format: str) -> None:
    check_spec(one_layer(layer, shape, data_format))


@pytest.mark.parametrize("layer", POOL2D)
def test_channels_first_pools_what_channels_last_pools(layer: str) -> None:
    first = check_spec(one_layer(layer, "[3, 7, 6]", "channels_first"))
    last = check_spec(one_layer(layer, "[7, 6, 3]", "channels_last"))
    (out_first,) = first.outputs
    (out_last,) = last.run(x=np.transpose(first.inputs["x"], (0, 2, 3, 1)))
    if out_last.ndim == 4:
        out_last = np.transpose(out_last, (0, 3, 1, 2))
    np.testing.assert_allclose(out_first, out_last, atol=1e-6)


def test_same_padded_average_leaves_the_padding_out() -> None:
    case = check_spec(one_layer("{type: AveragePooling1D, pool_size: 2, padding: same}", "[3, 1]"))
    (out,) = case.run(x=np.array([[[1.0], [2.0], [3.0]]], np.float32))
    np.testing.assert_allclose(out[0, :, 0], [1.5, 3.0])
