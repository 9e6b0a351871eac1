"""Depthwise and separable convolutions in PyTorch: depth multipliers, strides with same
padding, dilation, both layouts, with and without bias; numerics against
numpy with Keras's kernels (depthwise (*k, in, multiplier), output channel c·m + j) and the
separable layer as depthwise then pointwise."""

from __future__ import annotations

import numpy as np
import pytest

from tests.backends.torch.test_torch_conv import tf_same_pads
from tests.harness import check_spec, one_layer, set_parameters

CASES = {
    "dw1d_valid": ("{type: DepthwiseConv1D, kernel_size: 3}", "[7, 3]", ""),
    "dw1d_same_stride_multiplier": (
        "{type: DepthwiseConv1D, kernel_size: 4, strides: 2, padding: same, depth_multiplier: 2}",
        "[null, 3]",
        "",
    ),
    "dw2d_dilated_multiplier": (
        "{type: DepthwiseConv2D, kernel_size: [2, 3], dilation_rate: 2, depth_multiplier: 3}",
        "[6, 7, 2]",
        "",
    ),
    "dw2d_channels_first_same_stride": (
        "{type: DepthwiseConv2D, kernel_size: 3, strides: 2, padding: same, use_bias: false}",
        "[2, 6, 7]",
        "channels_first",
    ),
    "sep1d_same_relu": (
        (
            "{type: SeparableConv1D, filters: 4, kernel_size: 3, padding: same,"
            " depth_multiplier: 2, activation: relu}"
        ),
        "[7, 3]",
        "",
    ),
    "sep2d_same_stride": (
        "{type: SeparableConv2D, filters: 4, kernel_size: [3, 2], strides: 2, padding: same}",
        "[6, 7, 3]",
        "",
    ),
    "sep2d_channels_first_no_bias": (
        (
            "{type: SeparableConv2D, filters: 3, kernel_size: 2, dilation_rate: 2,"
            " use_bias: false, depth_multiplier: 2}"
        ),
        "[3, 6, 7]",
        "channels_first",
    ),
}


@pytest.mark.parametrize("layer,shape,data_format", CASES.values(), ids=CASES.keys())
def test_depthwise_layer(layer: str, shape: str, data_format: str) -> None:
    check_spec(one_layer(layer, shape, data_format), "torch")


def depthwise_reference(
    x: np.ndarray, kernel: np.ndarray, stride: int, dilation: int, pads: tuple[int, int]
) -> np.ndarray:
    """Channels-last 1-D depthwise convolution with a Keras (k, in, m) kernel; output channel
    ``c * m + j`` is input channel ``c`` through filter ``kernel[:, c, j]``."""
    k, c, m = kernel.shape
    x = np.pad(x, ((0, 0), pads, (0, 0)))
    span = dilation * (k - 1) + 1
    starts = range(0, x.shape[1] - span + 1, stride)
    out = np.zeros((x.shape[0], len(starts), c * m))
    for t, s in enumerate(starts):
        window = x[:, s : s + span : dilation]  # (batch, k, c)
        out[:, t] = np.einsum("bkc,kcm->bcm", window, kernel).reshape(x.shape[0], c * m)
    return out


def keras_depthwise_kernel(weight: np.ndarray, multiplier: int) -> np.ndarray:
    """PyTorch (in·m, 1, k) → Keras (k, in, m)."""
    return weight.reshape(-1, multiplier, weight.shape[-1]).transpose(2, 0, 1)


def test_depthwise_channel_order_and_same_padding() -> None:
    case = check_spec(one_layer(CASES["dw1d_same_stride_multiplier"][0], "[9, 3]"), "torch")
    module = case.module("depthwise_conv1d")
    set_parameters(module, bias=np.arange(6, dtype=np.float32))
    kernel = keras_depthwise_kernel(module.weight.detach().numpy(), 2)
    x = case.inputs["x"]
    expected = depthwise_reference(x, kernel, 2, 1, tf_same_pads(9, 4, 2)) + np.arange(6)
    np.testing.assert_allclose(case.run(x=x)[0], expected, rtol=1e-5, atol=1e-5)


def test_separable_is_depthwise_then_pointwise() -> None:
    case = check_spec(one_layer(CASES["sep1d_same_relu"][0], "[7, 3]"), "torch")
    module = case.module("separable_conv1d")
    kernel = keras_depthwise_kernel(module[0].weight.detach().numpy(), 2)
    pointwise = module[1].weight.detach().numpy()[:, :, 0].T  # Keras (in·m, filters)
    bias = module[1].bias.detach().numpy()
    x = case.inputs["x"]
    depthwise = depthwise_reference(x, kernel, 1, 1, tf_same_pads(7, 3, 1))
    expected = np.maximum(depthwise @ pointwise + bias, 0)
    np.testing.assert_allclose(case.run(x=x)[0], expected, rtol=1e-5, atol=1e-5)
