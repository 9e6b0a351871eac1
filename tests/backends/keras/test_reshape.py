"""Flatten (memory order of the spec's layout, channels_first too), Reshape, Permute and
ZeroPadding2D in its three padding forms."""

from __future__ import annotations

import numpy as np
import pytest

from tests.backends.keras.harness import check_spec, one_layer

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
]


@pytest.mark.parametrize(("layer", "shape", "data_format"), CASES)
def test_reshape_layer(layer: str, shape: str, data_format: str) -> None:
    check_spec(one_layer(layer, shape, data_format))


@pytest.mark.parametrize("data_format", ["channels_last", "channels_first"])
def test_flatten_keeps_the_spec_memory_order(data_format: str) -> None:
    case = check_spec(one_layer("{type: Flatten}", "[2, 3, 4]", data_format))
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
    case = check_spec(spec)
    x = case.inputs["x"]
    permuted, padded = case.outputs
    np.testing.assert_array_equal(permuted, np.transpose(x, (0, 2, 3, 1)))
    np.testing.assert_array_equal(padded, np.pad(x, ((0, 0), (0, 0), (0, 1), (2, 0))))
