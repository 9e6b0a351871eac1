"""ONNX Conv1D/2D/3D: every padding mode, strides, dilation, groups and both layouts, with
numeric checks against a numpy convolution that pads exactly as TensorFlow does."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

CASES = {
    "conv1d_valid": ("[7, 3]", "{type: Conv1D, filters: 4, kernel_size: 3}"),
    "conv1d_same_stride2_even": (
        "[8, 3]",
        "{type: Conv1D, filters: 2, kernel_size: 4, strides: 2, padding: same}",
    ),
    "conv1d_causal_dilated": (
        "[9, 2]",
        "{type: Conv1D, filters: 3, kernel_size: 3, padding: causal, dilation_rate: 2}",
    ),
    "conv1d_free_length_same": (
        "[null, 2]",
        "{type: Conv1D, filters: 2, kernel_size: 2, padding: same}",
    ),
    "conv1d_groups_no_bias": (
        "[6, 4]",
        "{type: Conv1D, filters: 6, kernel_size: 2, groups: 2, use_bias: false}",
    ),
    "conv1d_channels_first": (
        "[3, 7]",
        "{type: Conv1D, filters: 2, kernel_size: 3, data_format: channels_first, padding: same}",
    ),
    "conv2d_valid_relu": (
        "[6, 5, 3]",
        "{type: Conv2D, filters: 4, kernel_size: 3, activation: relu}",
    ),
    "conv2d_same_stride2_even": (
        "[7, 6, 2]",
        "{type: Conv2D, filters: 3, kernel_size: [2, 4], strides: [2, 3], padding: same}",
    ),
    "conv2d_same_dilated": (
        "[6, 6, 2]",
        "{type: Conv2D, filters: 2, kernel_size: 3, dilation_rate: [2, 1], padding: same}",
    ),
    "conv2d_groups": ("[5, 5, 4]", "{type: Conv2D, filters: 4, kernel_size: 2, groups: 4}"),
    "conv3d_same_strided": (
        "[4, 5, 3, 2]",
        "{type: Conv3D, filters: 3, kernel_size: [2, 3, 2], strides: [1, 2, 1], padding: same}",
    ),
    "conv3d_channels_first_dilated_groups": (
        "[4, 5, 4, 3]",
        (
            "{type: Conv3D, filters: 2, kernel_size: 2, dilation_rate: [2, 1, 1], groups: 2,"
            " data_format: channels_first, use_bias: false}"
        ),
    ),
    "conv2d_channels_first_softmax": (
        "[2, 5, 6]",
        (
            "{type: Conv2D, filters: 3, kernel_size: 2, data_format: channels_first,"
            " activation: softmax}"
        ),
    ),
}


def body(case: str) -> str:
    shape, layer = CASES[case]
    return f"inputs: [{{name: x, shape: {shape}}}]\nlayers: [{layer}]\n"


@pytest.mark.parametrize("case", sorted(CASES))
def test_conv_layer(case: str, check) -> None:
    check(body(case))


def _tf_pads(size: int, kernel: int, stride: int, dilation: int, padding: str) -> tuple[int, int]:
    span = dilation * (kernel - 1) + 1
    if padding == "causal":
        return span - 1, 0
    if padding == "valid":
        return 0, 0
    total = max((-(-size // stride) - 1) * stride + span - size, 0)
    return total // 2, total - total // 2


def reference_conv(x: np.ndarray, kernel: np.ndarray, bias: np.ndarray, args: dict) -> np.ndarray:
    """Keras's convolution of a channels-last ``x`` with a Keras (k..., in/g, out) kernel."""
    rank = kernel.ndim - 2
    spatial = x.shape[1:-1]
    pads = [
        _tf_pads(n, k, s, d, args["padding"])
        for n, k, s, d in zip(
            spatial, kernel.shape[:rank], args["strides"], args["dilation_rate"], strict=True
        )
    ]
    x = np.pad(x, [(0, 0), *pads, (0, 0)])
    groups, per_in = args["groups"], kernel.shape[-2]
    per_out = kernel.shape[-1] // groups
    sizes = [
        (x.shape[1 + i] - args["dilation_rate"][i] * (kernel.shape[i] - 1) - 1)
        // args["strides"][i]
        + 1
        for i in range(rank)
    ]
    out = np.zeros((x.shape[0], *sizes, kernel.shape[-1]))
    for pos in itertools.product(*(range(n) for n in sizes)):
        window = tuple(
            slice(p * s, p * s + d * (k - 1) + 1, d)
            for p, s, d, k in zip(
                pos, args["strides"], args["dilation_rate"], kernel.shape[:rank], strict=True
            )
        )
        patch = x[(slice(None), *window)]
        for g in range(groups):
            part = patch[..., g * per_in : (g + 1) * per_in]
            w = kernel[..., g * per_out : (g + 1) * per_out]
            out[(slice(None), *pos, slice(g * per_out, (g + 1) * per_out))] = np.tensordot(
                part, w, axes=(list(range(1, rank + 2)), list(range(rank + 1)))
            )
    return out + bias


@pytest.mark.parametrize(
    "case",
    ["conv1d_same_stride2_even", "conv1d_causal_dilated", "conv1d_groups_no_bias",
     "conv2d_same_stride2_even", "conv2d_same_dilated", "conv2d_groups", "conv3d_same_strided"],
)  # fmt: skip
def test_conv_matches_tensorflow_padding(case: str, load_spec, forward) -> None:
    graph = load_spec(body(case))
    node = graph.node(graph.outputs[0])
    rank = len(node.args["kernel_size"])
    rng = np.random.default_rng(1)
    x = rng.standard_normal((2, *node.input_shape)).astype(np.float32)
    specs = {w.name: w for w in node.weights["onnx"]}
    onnx_kernel = rng.standard_normal(specs["W"].shape).astype(np.float32)
    bias = rng.standard_normal(node.args["filters"]).astype(np.float32)
    weights = {"W": onnx_kernel, "B": bias} if "B" in specs else {"W": onnx_kernel}
    (y,) = forward(body(case), {"x": x}, {node.name: weights})
    keras_kernel = onnx_kernel.transpose(*range(2, rank + 2), 1, 0)  # OI(k...) → (k...)IO
    expected = reference_conv(x, keras_kernel, bias if "B" in specs else 0.0, node.args)
    np.testing.assert_allclose(y, expected, rtol=1e-4, atol=1e-5)
