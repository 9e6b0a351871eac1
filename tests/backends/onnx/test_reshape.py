"""ONNX Flatten, Reshape, Permute and ZeroPadding2D, against numpy."""

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
