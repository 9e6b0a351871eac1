"""DepthwiseConv1D/2D and SeparableConv1D/2D: depth multipliers, strides with same (equal and
unequal per axis), dilation, channels_first; against numpy (output channel
``c·multiplier + m``) and, for unequal strides, against Keras's own layer at stride 1."""

from __future__ import annotations

import itertools

import keras
import numpy as np
import pytest

import backends
from tests.harness import assert_measurement_matches_ir, check_spec, one_layer
from translator.spec.loader import load_text

pytestmark = pytest.mark.keras

DEPTHWISE1D = [
    "{type: DepthwiseConv1D, kernel_size: 3}",
    "{type: DepthwiseConv1D, kernel_size: 4, strides: 2, padding: same, depth_multiplier: 2}",
    "{type: DepthwiseConv1D, kernel_size: 3, dilation_rate: 2, activation: tanh}",
    "{type: SeparableConv1D, filters: 4, kernel_size: 3, use_bias: false}",
    "{type: SeparableConv1D, filters: 2, kernel_size: 2, strides: 3, depth_multiplier: 3}",
]
DEPTHWISE2D = [
    "{type: DepthwiseConv2D, kernel_size: 3, activation: relu}",
    "{type: DepthwiseConv2D, kernel_size: [2, 3], strides: 2, padding: same, depth_multiplier: 2}",
    "{type: SeparableConv2D, filters: 4, kernel_size: 3, dilation_rate: 2, padding: same}",
    "{type: SeparableConv2D, filters: 2, kernel_size: 2, strides: [1, 2], use_bias: false}",
    "{type: DepthwiseConv2D, kernel_size: 3, strides: [3, 2], padding: same}",
]
CASES = [(c, "[7, 3]", "channels_last") for c in DEPTHWISE1D]
CASES += [(c, "[3, 7]", "channels_first") for c in DEPTHWISE1D]
CASES += [(c, "[7, 6, 3]", "channels_last") for c in DEPTHWISE2D]
CASES += [(c, "[3, 7, 6]", "channels_first") for c in DEPTHWISE2D]


@pytest.mark.parametrize(("layer", "shape", "data_format"), CASES)
def test_depthwise_layer(layer: str, shape: str, data_format: str) -> None:
    check_spec(one_layer(layer, shape, data_format), "keras")


def _pads(n: int, span: int, stride: int, padding: str) -> tuple[int, int]:
    """Zeros before and after one axis: TF's same (extra at the end), or none."""
    if padding == "same":
        total = max((-(-n // stride) - 1) * stride + span - n, 0)
        return total // 2, total - total // 2
    return 0, 0


def depthwise(x: np.ndarray, kernel: np.ndarray, args: dict) -> np.ndarray:
    """channels_last depthwise convolution; output channel c·multiplier + m."""
    rank = kernel.ndim - 2
    k, s, d = kernel.shape[:rank], args["strides"], args["dilation_rate"]
    span = [(kk - 1) * dd + 1 for kk, dd in zip(k, d, strict=True)]
    pads = [
        _pads(n, sp, ss, args["padding"]) for n, sp, ss in zip(x.shape[1:-1], span, s, strict=True)
    ]
    x = np.pad(x, [(0, 0), *pads, (0, 0)])
    out = [(n - sp) // ss + 1 for n, sp, ss in zip(x.shape[1:-1], span, s, strict=True)]
    y = 0
    for taps in itertools.product(*(range(kk) for kk in k)):
        window = tuple(
            slice(t * dd, t * dd + (o - 1) * ss + 1, ss)
            for t, dd, o, ss in zip(taps, d, out, s, strict=True)
        )
        y = y + x[(slice(None), *window)][..., None] * kernel[taps]  # (..., c, multiplier)
    return y.reshape(*y.shape[:-2], -1)


def reference(x: np.ndarray, weights: list[np.ndarray], type_: str, args: dict) -> np.ndarray:
    if type_.startswith("Depthwise"):
        return depthwise(x, weights[0], args) + (weights[1] if len(weights) > 1 else 0)
    y = depthwise(x, weights[0], args)
    pointwise = weights[1].reshape(weights[1].shape[-2:])
    return y @ pointwise + (weights[2] if len(weights) > 2 else 0)


NUMERIC = [
    ("DepthwiseConv1D, kernel_size: 3, depth_multiplier: 2", (7, 3)),
    ("DepthwiseConv1D, kernel_size: 2, strides: 2, padding: same", (7, 3)),
    ("DepthwiseConv1D, kernel_size: 3, dilation_rate: 2, depth_multiplier: 2", (7, 2)),
    ("SeparableConv1D, filters: 3, kernel_size: 3, strides: 2, padding: same", (6, 2)),
    ("DepthwiseConv2D, kernel_size: [3, 2], depth_multiplier: 3, padding: same", (5, 4, 2)),
    ("SeparableConv2D, filters: 3, kernel_size: 3, strides: 2, depth_multiplier: 2", (6, 5, 2)),
    ("DepthwiseConv2D, kernel_size: [2, 3], strides: [1, 2], padding: same", (6, 5, 2)),
    ("DepthwiseConv2D, kernel_size: 2, strides: [3, 2], depth_multiplier: 2", (7, 6, 2)),
    ("SeparableConv2D, filters: 3, kernel_size: 3, strides: [2, 1], padding: same", (6, 5, 2)),
]


@pytest.mark.parametrize("data_format", ["channels_last", "channels_first"])
@pytest.mark.parametrize(("args", "last_shape"), NUMERIC)
def test_depthwise_matches_numpy(args: str, last_shape: tuple[int, ...], data_format: str) -> None:
    rank = len(last_shape) - 1
    to_first, to_last = (0, rank + 1, *range(1, rank + 1)), (0, *range(2, rank + 2), 1)
    shape = last_shape if data_format == "channels_last" else (last_shape[-1], *last_shape[:-1])
    case = check_spec(one_layer(f"{{name: c, type: {args}}}", list(shape), data_format), "keras")
    rng = np.random.default_rng(3)
    weights = [rng.uniform(-1, 1, w.shape).astype(np.float32) for w in case.layer("c").weights]
    case.layer("c").set_weights(weights)
    x = case.inputs["x"]
    (out,) = case.run(x=x)
    node = case.graph.node("c")
    x_last = x if data_format == "channels_last" else np.transpose(x, to_last)
    expected = reference(x_last, weights, node.type, node.args)
    if data_format == "channels_first":
        expected = np.transpose(expected, to_first)
    np.testing.assert_allclose(out, expected, atol=1e-5)


@pytest.mark.parametrize("type_", ["DepthwiseConv2D", "SeparableConv2D"])
def test_unequal_strides_subsample_keras_own_stride_one_layer(type_: str) -> None:
    """With a free spatial axis, so that the "same" zeros are worked out at run time."""
    filters = ", filters: 3" if type_ == "SeparableConv2D" else ""
    layer = f"{{name: c, type: {type_}{filters}, kernel_size: 3, strides: [2, 3], padding: same}}"
    keras_backend = backends.load("keras")
    graph = load_text(one_layer(layer, "[6, null, 2]"))
    built = keras_backend.build(graph)
    assert_measurement_matches_ir(graph, keras_backend.measure(built))
    ours = built.extra["layers"]["c"]
    stock = getattr(keras.layers, type_).from_config(
        {**ours.get_config(), "strides": (1, 1), "padding": "valid"}
    )
    x = np.random.default_rng(4).standard_normal((2, 6, 7, 2)).astype(np.float32)
    (out,) = keras_backend.run(built, {"x": x})
    # TF's same padding for strides (2, 3) on 6 x 7 with a 3 x 3 kernel: rows (0, 1),
    # columns (1, 1); then a stride-1 valid layer, keeping every 2nd row and 3rd column.
    padded = np.pad(x, ((0, 0), (0, 1), (1, 1), (0, 0)))
    stock(padded)  # builds it
    stock.set_weights(ours.get_weights())
    expected = stock(padded).numpy()[:, ::2, ::3]
    assert out.shape == (2, 3, 3, 3 if filters else 2)
    np.testing.assert_allclose(out, expected, atol=1e-5)


@pytest.mark.parametrize(
    ("layer", "shape"),
    [
        ("{name: c, type: DepthwiseConv2D, kernel_size: 1}", "[3, 4, 3]"),
        ("{name: c, type: SeparableConv1D, filters: 3, kernel_size: 2, strides: 2}", "[2, 6]"),
    ],
)
def test_channels_first_bias_goes_on_the_channel_axis(layer: str, shape: str) -> None:
    """Where the last spatial size equals the channel count (Keras 3.15's TF ``ops.add``
    would add a channels_first bias along that last axis)."""
    case = check_spec(one_layer(layer, shape, "channels_first"), "keras")
    weights = [np.zeros(w.shape, np.float32) for w in case.layer("c").weights]
    weights[-1] = np.arange(1, 4, dtype=np.float32)
    case.layer("c").set_weights(weights)
    (out,) = case.run(x=case.inputs["x"])
    assert out.shape[1] == out.shape[-1] == 3
    per_channel = weights[-1].reshape(1, 3, *(1,) * (out.ndim - 2))
    np.testing.assert_array_equal(out, np.broadcast_to(per_channel, out.shape))
