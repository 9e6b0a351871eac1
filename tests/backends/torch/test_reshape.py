"""Reshaping layers in PyTorch: Flatten (Keras's row-major order), Reshape, Permute and
ZeroPadding2D in both layouts."""

from __future__ import annotations

import numpy as np
import pytest

from tests.backends.torch.harness import check_spec, one_layer

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
}


@pytest.mark.parametrize("layer,shape,data_format", CASES.values(), ids=CASES.keys())
def test_reshape_layer(layer: str, shape: str, data_format: str) -> None:
    check_spec(one_layer(layer, shape, data_format))


def test_values_follow_numpy() -> None:
    x = np.arange(24, dtype=np.float32).reshape(1, 3, 4, 2)
    flatten = check_spec(one_layer(CASES["flatten"][0], "[3, 4, 2]")).run(x=x)[0]
    np.testing.assert_array_equal(flatten, x.reshape(1, -1))
    permute = check_spec(one_layer(CASES["permute"][0], "[3, 4, 2]")).run(x=x)[0]
    np.testing.assert_array_equal(permute, x.transpose(0, 3, 1, 2))
    padded = check_spec(one_layer(CASES["zero_padding_pairs"][0], "[3, 4, 2]")).run(x=x)[0]
    np.testing.assert_array_equal(padded, np.pad(x, ((0, 0), (1, 2), (0, 3), (0, 0))))
    first = check_spec(
        one_layer(CASES["zero_padding_channels_first"][0], "[2, 3, 4]", "channels_first")
    )
    y = x.reshape(1, 2, 3, 4)
    np.testing.assert_array_equal(first.run(x=y)[0], np.pad(y, ((0, 0), (0, 0), (1, 1), (2, 2))))
