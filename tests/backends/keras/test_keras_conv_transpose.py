"""Conv1D/2D/3DTranspose: Keras's default and explicit output_padding, strides with same,
dilation, channels_first; against a numpy scatter-add written from TensorFlow's definition."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from tests.harness import check_spec, one_layer

pytestmark = pytest.mark.keras

CASES = [
    ("{type: Conv1DTranspose, filters: 2, kernel_size: 3}", "[5, 3]", ""),
    ("{type: Conv1DTranspose, filters: 2, kernel_size: 2, strides: 3}", "[5, 3]", ""),
    (
        "{type: Conv1DTranspose, filters: 2, kernel_size: 3, strides: 2, padding: same}",
        "[3, 5]",
        "channels_first",
    ),
    (
        "{type: Conv1DTranspose, filters: 2, kernel_size: 3, dilation_rate: 2, use_bias: false}",
        "[5, 3]",
        "",
    ),
    ("{type: Conv2DTranspose, filters: 3, kernel_size: 3, strides: 2}", "[4, 5, 2]", ""),
    (
        (
            "{type: Conv2DTranspose, filters: 3, kernel_size: [2, 3], strides: [2, 1],"
            " padding: same, output_padding: [1, 0]}"
        ),
        "[2, 4, 5]",
        "channels_first",
    ),
    (
        (
            "{type: Conv2DTranspose, filters: 2, kernel_size: 3, dilation_rate: [1, 2],"
            " activation: relu}"
        ),
        "[4, 5, 2]",
        "",
    ),
    ("{type: Conv3DTranspose, filters: 2, kernel_size: 2, strides: 2}", "[3, 3, 2, 2]", ""),
    (
        "{type: Conv3DTranspose, filters: 2, kernel_size: 3, padding: same}",
        "[2, 3, 3, 2]",
        "channels_first",
    ),
]


@pytest.mark.parametrize(("layer", "shape", "data_format"), CASES)
def test_conv_transpose_layer(layer: str, shape: str, data_format: str) -> None:
    check_spec(one_layer(layer, shape, data_format), "keras")


def keras_size(n: int, k: int, s: int, padding: str, output_padding: int | None) -> int:
    """Keras's output length for one axis (k is the dilated kernel size)."""
    if output_padding is None:
        return (n - 1) * s + max(k, s) if padding == "valid" else n * s
    return (n - 1) * s + (k if padding == "valid" else k % 2) + output_padding


def reference(x: np.ndarray, kernel: np.ndarray, bias: np.ndarray, args: dict) -> np.ndarray:
    """channels_last transposed convolution: every input position scatters ``x · kernel`` onto
    the output at ``i·stride + j·dilation``; TF then keeps a window starting at half the
    surplus (same) or at 0 (valid), zero-filled where nothing was scattered."""
    rank = kernel.ndim - 2
    n, k = x.shape[1:-1], kernel.shape[:rank]
    s, d = args["strides"], args["dilation_rate"]
    span = [(kk - 1) * dd + 1 for kk, dd in zip(k, d, strict=True)]
    pads = args["output_padding"] or (None,) * rank
    size = [
        keras_size(nn, sp, ss, args["padding"], p)
        for nn, sp, ss, p in zip(n, span, s, pads, strict=True)
    ]
    full = [(nn - 1) * ss + sp for nn, ss, sp in zip(n, s, span, strict=True)]
    out = np.zeros(
        (x.shape[0], *[max(a, b) for a, b in zip(full, size, strict=True)], kernel.shape[-2])
    )
    for taps in itertools.product(*(range(kk) for kk in k)):
        window = tuple(
            slice(t * dd, t * dd + (nn - 1) * ss + 1, ss)
            for t, dd, nn, ss in zip(taps, d, n, s, strict=True)
        )
        out[(slice(None), *window)] += x @ kernel[taps].T  # kernel[taps]: (filters, in)
    start = [
        max(f - z, 0) // 2 if args["padding"] == "same" else 0
        for f, z in zip(full, size, strict=True)
    ]
    crop = tuple(slice(b, b + z) for b, z in zip(start, size, strict=True))
    return out[(slice(None), *crop)] + bias


NUMERIC = [
    ("Conv1DTranspose, filters: 2, kernel_size: 3, strides: 2", (6, 3)),
    ("Conv1DTranspose, filters: 2, kernel_size: 4, strides: 3, padding: same", (6, 3)),
    ("Conv1DTranspose, filters: 2, kernel_size: 3, strides: 2, output_padding: 1", (6, 3)),
    ("Conv1DTranspose, filters: 2, kernel_size: 3, dilation_rate: 3, padding: same", (6, 3)),
    (
        "Conv1DTranspose, filters: 1, kernel_size: 4, strides: 3, padding: same, output_padding: 2",
        (6, 2),
    ),
    ("Conv2DTranspose, filters: 2, kernel_size: [3, 2], strides: 2, padding: same", (4, 5, 3)),
    ("Conv2DTranspose, filters: 2, kernel_size: 3, dilation_rate: [2, 1]", (4, 5, 3)),
    ("Conv2DTranspose, filters: 2, kernel_size: 2, strides: 3, output_padding: [2, 0]", (3, 4, 2)),
    (
        "Conv3DTranspose, filters: 2, kernel_size: 2, strides: [1, 2, 2], padding: same",
        (3, 3, 2, 2),
    ),
]


@pytest.mark.parametrize("data_format", ["channels_last", "channels_first"])
@pytest.mark.parametrize(("args", "last_shape"), NUMERIC)
def test_transposed_convolution_matches_numpy(
    args: str, last_shape: tuple[int, ...], data_format: str
) -> None:
    rank = len(last_shape) - 1
    to_first, to_last = (0, rank + 1, *range(1, rank + 1)), (0, *range(2, rank + 2), 1)
    shape = last_shape if data_format == "channels_last" else (last_shape[-1], *last_shape[:-1])
    case = check_spec(one_layer(f"{{name: c, type: {args}}}", list(shape), data_format), "keras")
    rng = np.random.default_rng(2)
    weights = [rng.uniform(-1, 1, w.shape).astype(np.float32) for w in case.layer("c").weights]
    case.layer("c").set_weights(weights)
    x = case.inputs["x"]
    (out,) = case.run(x=x)
    x_last = x if data_format == "channels_last" else np.transpose(x, to_last)
    expected = reference(x_last, *weights, case.graph.node("c").args)
    if data_format == "channels_first":
        expected = np.transpose(expected, to_first)
    np.testing.assert_allclose(out, expected, atol=1e-5)
