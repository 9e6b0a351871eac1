"""ONNX Conv1D/2D/3DTranspose: Keras's output size in every padding mode, with and without
output_padding, against a numpy reference written as TensorFlow defines the operation: the
adjoint of the forward convolution (with TF's padding) whose output is this layer's input."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from tests.backends.onnx.test_onnx_conv import _tf_pads

CASES = {
    "t1d_valid_stride2": (
        "[5, 2]",
        "{type: Conv1DTranspose, filters: 3, kernel_size: 3, strides: 2}",
    ),
    "t1d_valid_kernel_below_stride": (
        "[4, 2]",
        "{type: Conv1DTranspose, filters: 2, kernel_size: 2, strides: 3}",
    ),
    "t1d_same_even_kernel": (
        "[5, 2]",
        "{type: Conv1DTranspose, filters: 2, kernel_size: 4, strides: 2, padding: same}",
    ),
    "t1d_same_dilated": (
        "[6, 3]",
        "{type: Conv1DTranspose, filters: 2, kernel_size: 3, dilation_rate: 2, padding: same}",
    ),
    "t1d_output_padding": (
        "[4, 2]",
        (
            "{type: Conv1DTranspose, filters: 2, kernel_size: 4, strides: 3, output_padding: 2,"
            " padding: same}"
        ),
    ),
    "t1d_free_length": (
        "[null, 2]",
        "{type: Conv1DTranspose, filters: 2, kernel_size: 3, strides: 2, padding: same}",
    ),
    "t2d_same_rect": (
        "[4, 5, 2]",
        (
            "{type: Conv2DTranspose, filters: 3, kernel_size: [3, 2], strides: [2, 3], padding: same,"
            " activation: relu}"
        ),
    ),
    "t2d_channels_first_output_padding": (
        "[2, 4, 3]",
        (
            "{type: Conv2DTranspose, filters: 3, kernel_size: 3, strides: 2, output_padding: [1, 0],"
            " data_format: channels_first, use_bias: false}"
        ),
    ),
    "t3d_valid": (
        "[3, 2, 4, 2]",
        "{type: Conv3DTranspose, filters: 2, kernel_size: [2, 3, 2], strides: [2, 1, 2]}",
    ),
    "t3d_same_channels_first": (
        "[2, 3, 2, 4]",
        (
            "{type: Conv3DTranspose, filters: 3, kernel_size: 2, strides: 2, padding: same,"
            " data_format: channels_first}"
        ),
    ),
}


def body(case: str) -> str:
    shape, layer = CASES[case]
    return f"inputs: [{{name: x, shape: {shape}}}]\nlayers: [{layer}]\n"


@pytest.mark.parametrize("case", sorted(CASES))
def test_conv_transpose_layer(case: str, check) -> None:
    check(body(case))


def reference_transpose(x: np.ndarray, w: np.ndarray, args: dict, out: tuple) -> np.ndarray:
    """Channels-last ``x`` through an ONNX-layout (in, filters, *k) kernel, no bias: each input
    tap scatters into the positions the forward convolution of size ``out`` reads it from."""
    kernel, strides, dilation = w.shape[2:], args["strides"], args["dilation_rate"]
    starts = [
        _tf_pads(n, k, s, d, args["padding"])[0]
        for n, k, s, d in zip(out, kernel, strides, dilation, strict=True)
    ]
    y = np.zeros((x.shape[0], *out, w.shape[1]))
    for pos in itertools.product(*(range(n) for n in x.shape[1:-1])):
        for tap in itertools.product(*(range(k) for k in kernel)):
            target = [
                p * s + t * d - a
                for p, s, t, d, a in zip(pos, strides, tap, dilation, starts, strict=True)
            ]
            if all(0 <= u < n for u, n in zip(target, out, strict=True)):
                y[(slice(None), *target)] += x[(slice(None), *pos)] @ w[(..., *tap)]
    return y


@pytest.mark.parametrize(
    "case",
    ["t1d_valid_kernel_below_stride", "t1d_same_even_kernel", "t1d_same_dilated",
     "t1d_output_padding", "t2d_same_rect", "t2d_channels_first_output_padding"],
)  # fmt: skip
def test_conv_transpose_matches_tensorflow(case: str, load_spec, forward) -> None:
    node = load_spec(body(case)).layers[0]
    a = node.args
    rng = np.random.default_rng(2)
    x = rng.standard_normal((2, *node.input_shape)).astype(np.float32)
    specs = {w.name: w for w in node.weights["onnx"]}
    weights = {name: rng.standard_normal(s.shape).astype(np.float32) for name, s in specs.items()}
    (y,) = forward(body(case), {"x": x}, {node.name: weights})
    last = a["data_format"] == "channels_last"
    x_last = x if last else np.moveaxis(x, 1, -1)
    out = node.output_shape[:-1] if last else node.output_shape[1:]
    expected = reference_transpose(x_last, weights["W"], a, out) + weights.get("B", 0.0)
    if a["activation"] == "relu":
        expected = np.maximum(expected, 0)
    if not last:
        expected = np.moveaxis(expected, -1, 1)
    assert y.shape == expected.shape
    np.testing.assert_allclose(y, expected, rtol=1e-4, atol=1e-5)
