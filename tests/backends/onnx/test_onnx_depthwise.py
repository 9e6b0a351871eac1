"""ONNX DepthwiseConv1D/2D and SeparableConv1D/2D: grouped convolutions with one group per
input channel (output channel ``c·multiplier + m``), checked against the numpy convolution of
test_conv, which pads exactly as TensorFlow does ."""

from __future__ import annotations

import numpy as np
import pytest

from tests.backends.onnx.test_onnx_conv import reference_conv

CASES = {
    "dw1d_valid": ("[7, 3]", "{type: DepthwiseConv1D, kernel_size: 3}"),
    "dw1d_same_stride2_multiplier": (
        "[8, 2]",
        "{type: DepthwiseConv1D, kernel_size: 4, strides: 2, padding: same, depth_multiplier: 3}",
    ),
    "dw1d_same_dilated": (
        "[9, 2]",
        "{type: DepthwiseConv1D, kernel_size: 3, padding: same, dilation_rate: 2}",
    ),
    "dw1d_channels_first_no_bias": (
        "[3, 6]",
        "{type: DepthwiseConv1D, kernel_size: 2, data_format: channels_first, use_bias: false}",
    ),
    "dw2d_same_dilated": (
        "[6, 5, 3]",
        (
            "{type: DepthwiseConv2D, kernel_size: [2, 3], dilation_rate: [2, 1], padding: same,"
            " depth_multiplier: 2}"
        ),
    ),
    "dw2d_strided_relu": (
        "[7, 6, 2]",
        "{type: DepthwiseConv2D, kernel_size: 3, strides: [2, 1], activation: relu}",
    ),
    "dw2d_channels_first_free": (
        "[2, null, 5]",
        "{type: DepthwiseConv2D, kernel_size: 2, data_format: channels_first, padding: same}",
    ),
    "sep1d_same_strides": (
        "[8, 3]",
        (
            "{type: SeparableConv1D, filters: 4, kernel_size: 3, strides: 2, padding: same,"
            " depth_multiplier: 2}"
        ),
    ),
    "sep1d_same_no_bias": (
        "[6, 2]",
        "{type: SeparableConv1D, filters: 3, kernel_size: 2, padding: same, use_bias: false}",
    ),
    "sep2d_valid_tanh": (
        "[5, 6, 2]",
        "{type: SeparableConv2D, filters: 3, kernel_size: [2, 3], activation: tanh}",
    ),
    "sep2d_channels_first_dilated": (
        "[2, 6, 5]",
        (
            "{type: SeparableConv2D, filters: 4, kernel_size: 3, dilation_rate: 2, padding: same,"
            " data_format: channels_first, depth_multiplier: 2}"
        ),
    ),
}


def body(case: str) -> str:
    shape, layer = CASES[case]
    return f"inputs: [{{name: x, shape: {shape}}}]\nlayers: [{layer}]\n"


@pytest.mark.parametrize("case", sorted(CASES))
def test_depthwise_layer(case: str, check) -> None:
    check(body(case))


def _keras_layout(kernel: np.ndarray) -> np.ndarray:
    """ONNX (out, in/groups, *k) → (*k, in/groups, out), the layout reference_conv takes."""
    return kernel.transpose(*range(2, kernel.ndim), 1, 0)


def reference(node, x: np.ndarray, w: dict[str, np.ndarray]) -> np.ndarray:
    """The layer on a channels-last ``x``: depthwise as a grouped convolution, then 1×1."""
    a = node.args
    channels = x.shape[-1]
    window = {k: a[k] for k in ("strides", "dilation_rate", "padding")}
    depthwise = w["depthwise_W"] if "depthwise_W" in w else w["W"]
    y = reference_conv(x, _keras_layout(depthwise), 0.0, {**window, "groups": channels})
    if "pointwise_W" in w:
        ones = [1] * (x.ndim - 2)
        pointwise = {"strides": ones, "dilation_rate": ones, "padding": "valid", "groups": 1}
        y = reference_conv(y, _keras_layout(w["pointwise_W"]), 0.0, pointwise)
    y = y + w.get("B", 0.0)
    return {"relu": lambda v: np.maximum(v, 0), "tanh": np.tanh}.get(a["activation"], np.asarray)(y)


@pytest.mark.parametrize("case", sorted(CASES))
def test_depthwise_matches_numpy(case: str, load_spec, forward) -> None:
    node = load_spec(body(case)).layers[0]
    rng = np.random.default_rng(4)
    shape = [5 if d is None else d for d in node.input_shape]
    x = rng.standard_normal((2, *shape)).astype(np.float32)
    weights = {
        w.name: rng.standard_normal(w.shape).astype(np.float32) for w in node.weights["onnx"]
    }
    (y,) = forward(body(case), {"x": x}, {node.name: weights})
    first = node.args["data_format"] == "channels_first"
    expected = reference(node, np.moveaxis(x, 1, -1) if first else x, weights)
    np.testing.assert_allclose(
        y, np.moveaxis(expected, -1, 1) if first else expected, rtol=1e-4, atol=1e-5
    )


def test_depthwise_output_channels_follow_tensorflow_order(forward) -> None:
    """Channel c, multiplier m lands at output channel c·multiplier + m."""
    text = (
        "inputs: [{name: x, shape: [1, 2]}]\n"
        "layers: [{type: DepthwiseConv1D, kernel_size: 1, depth_multiplier: 3, use_bias: false,"
        " name: dw}]\n"
    )
    scales = np.arange(1, 7, dtype=np.float32).reshape(6, 1, 1)  # out channel o scales by o + 1
    (y,) = forward(text, {"x": np.array([[[10.0, 100.0]]], np.float32)}, {"dw": {"W": scales}})
    np.testing.assert_allclose(y[0, 0], [10, 20, 30, 400, 500, 600])
