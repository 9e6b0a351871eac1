"""Convolutions in PyTorch (Conv1D/2D/3D): padding valid/same/causal with strides and dilation,
groups, channels-first and channels-last specs, checked against the IR and a numpy reference
of TensorFlow's padding."""

from __future__ import annotations

import numpy as np
import pytest

from tests.harness import check_spec, one_layer, set_parameters

CASES = {
    "conv1d_valid": ("{type: Conv1D, filters: 4, kernel_size: 3}", "[9, 2]", ""),
    "conv1d_same_stride": (
        "{type: Conv1D, filters: 4, kernel_size: 4, strides: 2, padding: same}",
        "[9, 2]",
        "",
    ),
    "conv1d_causal_dilated": (
        "{type: Conv1D, filters: 2, kernel_size: 3, padding: causal, dilation_rate: 2}",
        "[null, 3]",
        "",
    ),
    "conv1d_causal_stride": (
        "{type: Conv1D, filters: 2, kernel_size: 2, padding: causal, strides: 2}",
        "[null, 3]",
        "",
    ),
    "conv1d_free_length_same": (
        "{type: Conv1D, filters: 2, kernel_size: 3, strides: 2, padding: same}",
        "[null, 3]",
        "",
    ),
    "conv1d_groups": ("{type: Conv1D, filters: 6, kernel_size: 3, groups: 3}", "[7, 6]", ""),
    "conv1d_channels_first": (
        "{type: Conv1D, filters: 4, kernel_size: 3, padding: same}",
        "[2, 9]",
        "channels_first",
    ),
    "conv2d_valid": ("{type: Conv2D, filters: 3, kernel_size: 3}", "[7, 6, 2]", ""),
    "conv2d_same_even_kernel_stride": (
        "{type: Conv2D, filters: 3, kernel_size: [2, 4], strides: [2, 3], padding: same}",
        "[7, 8, 2]",
        "",
    ),
    "conv2d_same_dilated": (
        "{type: Conv2D, filters: 3, kernel_size: 3, dilation_rate: [2, 1], padding: same}",
        "[7, 6, 2]",
        "",
    ),
    "conv2d_groups_no_bias": (
        "{type: Conv2D, filters: 4, kernel_size: 1, groups: 2, use_bias: false}",
        "[5, 5, 4]",
        "",
    ),
    "conv2d_channels_first": (
        "{type: Conv2D, filters: 3, kernel_size: 3, strides: 2, padding: same}",
        "[2, 7, 6]",
        "channels_first",
    ),
    "conv2d_softmax_channels": (
        "{type: Conv2D, filters: 3, kernel_size: 3, activation: softmax}",
        "[5, 5, 2]",
        "",
    ),
    "conv2d_alias": ("{type: Conv2d, filters: 3, kernel_size: 3}", "[5, 5, 2]", ""),
    "conv3d_valid": ("{type: Conv3D, filters: 2, kernel_size: 2}", "[4, 5, 3, 2]", ""),
    "conv3d_same_stride": (
        "{type: Conv3D, filters: 3, kernel_size: [2, 3, 2], strides: 2, padding: same}",
        "[5, 6, 4, 2]",
        "",
    ),
    "conv3d_channels_first_dilated_groups": (
        "{type: Conv3D, filters: 4, kernel_size: 2, dilation_rate: [1, 2, 1], groups: 2}",
        "[2, 4, 5, 3]",
        "channels_first",
    ),
    "conv3d_free_depth_no_bias": (
        "{type: Conv3D, filters: 2, kernel_size: 3, padding: same, use_bias: false}",
        "[null, 4, 4, 1]",
        "",
    ),
}


@pytest.mark.parametrize("layer,shape,data_format", CASES.values(), ids=CASES.keys())
def test_conv_layer(layer: str, shape: str, data_format: str) -> None:
    check_spec(one_layer(layer, shape, data_format), "torch")


def tf_same_pads(size: int, kernel: int, stride: int, dilation: int = 1) -> tuple[int, int]:
    """TensorFlow's SAME padding of one axis: the odd element goes at the end."""
    out = -(-size // stride)
    total = max((out - 1) * stride + (kernel - 1) * dilation + 1 - size, 0)
    return total // 2, total - total // 2


def conv2d_reference(x: np.ndarray, kernel: np.ndarray, strides: tuple[int, int]) -> np.ndarray:
    """A channels-last, valid, direct convolution with a Keras (kh, kw, in, out) kernel."""
    kh, kw = kernel.shape[:2]
    rows = range(0, x.shape[1] - kh + 1, strides[0])
    cols = range(0, x.shape[2] - kw + 1, strides[1])
    out = np.zeros((x.shape[0], len(rows), len(cols), kernel.shape[3]))
    for i, r in enumerate(rows):
        for j, c in enumerate(cols):
            out[:, i, j] = np.einsum("bhwc,hwco->bo", x[:, r : r + kh, c : c + kw], kernel)
    return out


def test_conv2d_same_stride_even_kernel_pads_like_tensorflow() -> None:
    case = check_spec(one_layer(CASES["conv2d_same_even_kernel_stride"][0], "[7, 8, 2]"), "torch")
    rng = np.random.default_rng(1)
    kernel = rng.standard_normal((2, 4, 2, 3)).astype(np.float32)
    set_parameters(case.module("conv2d"), weight=kernel.transpose(3, 2, 0, 1), bias=0.0)
    x = case.inputs["x"]
    padded = np.pad(x, ((0, 0), tf_same_pads(7, 2, 2), tf_same_pads(8, 4, 3), (0, 0)))
    np.testing.assert_allclose(
        case.run(x=x)[0], conv2d_reference(padded, kernel, (2, 3)), rtol=1e-5, atol=1e-5
    )


def test_causal_conv1d_sees_only_the_past() -> None:
    case = check_spec(
        one_layer(
            "{type: Conv1D, filters: 1, kernel_size: 2, padding: causal, dilation_rate: 2, use_bias: false}",
            "[6, 1]",
        ),
        "torch",
    )
    set_parameters(case.module("conv1d"), weight=np.array([[[1.0, 10.0]]], dtype=np.float32))
    x = np.arange(1, 7, dtype=np.float32).reshape(1, 6, 1)
    # y[t] = 1 * x[t - 2] + 10 * x[t], with zeros before the start
    expected = 10 * x[0, :, 0] + np.concatenate([[0, 0], x[0, :4, 0]])
    np.testing.assert_allclose(case.run(x=x)[0][0, :, 0], expected)


def test_conv3d_same_stride_pads_like_tensorflow() -> None:
    layer = "{type: Conv3D, filters: 2, kernel_size: [2, 1, 3], strides: [2, 1, 2], padding: same}"
    case = check_spec(one_layer(layer, "[5, 2, 6, 1]"), "torch")
    rng = np.random.default_rng(2)
    kernel = rng.standard_normal((2, 1, 3, 1, 2)).astype(np.float32)  # Keras (kd, kh, kw, in, out)
    set_parameters(case.module("conv3d"), weight=kernel.transpose(4, 3, 0, 1, 2), bias=0.5)
    x = case.inputs["x"]
    pads = ((0, 0), tf_same_pads(5, 2, 2), (0, 0), tf_same_pads(6, 3, 2), (0, 0))
    padded = np.pad(x, pads)
    out = np.zeros((2, 3, 2, 3, 2))
    for d in range(3):
        for w in range(3):
            window = padded[:, 2 * d : 2 * d + 2, :, 2 * w : 2 * w + 3]
            out[:, d, :, w] = np.einsum("bdhwc,dwco->bho", window, kernel[:, 0]) + 0.5
    np.testing.assert_allclose(case.run(x=x)[0], out, rtol=1e-5, atol=1e-5)
