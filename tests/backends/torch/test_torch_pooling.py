"""Pooling in PyTorch (1-D, 2-D and 3-D): windows with strides and TensorFlow's same padding
(average leaving the padding out), both layouts, and the global forms with and without
keepdims."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from tests.harness import check_spec, one_layer

CASES = {
    "max1d": ("{type: MaxPooling1D}", "[9, 3]", ""),
    "max1d_same_stride": (
        "{type: MaxPooling1D, pool_size: 3, strides: 2, padding: same}",
        "[8, 3]",
        "",
    ),
    "avg1d_free_length": ("{type: AveragePooling1D, pool_size: 2, padding: same}", "[null, 3]", ""),
    "max2d_same": (
        "{type: MaxPooling2D, pool_size: 3, strides: 2, padding: same}",
        "[7, 6, 2]",
        "",
    ),
    "avg2d_valid_strides": (
        "{type: AveragePooling2D, pool_size: [3, 2], strides: [1, 2]}",
        "[7, 6, 2]",
        "",
    ),
    "avg2d_channels_first": (
        "{type: AveragePooling2D, padding: same}",
        "[2, 5, 5]",
        "channels_first",
    ),
    "max2d_alias": ("{type: MaxPool2d}", "[4, 4, 1]", ""),
    "gap1d": ("{type: GlobalAveragePooling1D}", "[null, 3]", ""),
    "gmp1d_keepdims": ("{type: GlobalMaxPooling1D, keepdims: true}", "[6, 3]", ""),
    "gap2d_channels_first": ("{type: GlobalAveragePooling2D}", "[3, 4, 5]", "channels_first"),
    "gmp2d_keepdims_channels_first": (
        "{type: GlobalMaxPooling2D, keepdims: true}",
        "[3, 4, 5]",
        "channels_first",
    ),
    "gmp2d": ("{type: GlobalMaxPooling2D}", "[4, 5, 3]", ""),
    "max3d": ("{type: MaxPooling3D}", "[4, 5, 4, 2]", ""),
    "max3d_same_stride": (
        "{type: MaxPooling3D, pool_size: [3, 2, 3], strides: 2, padding: same}",
        "[5, 6, 7, 2]",
        "",
    ),
    "avg3d_same": ("{type: AveragePooling3D, padding: same}", "[3, 3, 5, 1]", ""),
    "avg3d_channels_first": ("{type: AveragePooling3D}", "[2, 4, 4, 5]", "channels_first"),
    "gap3d_keepdims": ("{type: GlobalAveragePooling3D, keepdims: true}", "[3, 4, 5, 2]", ""),
    "gmp3d_channels_first": ("{type: GlobalMaxPooling3D}", "[2, 3, 4, 5]", "channels_first"),
}


@pytest.mark.parametrize("layer,shape,data_format", CASES.values(), ids=CASES.keys())
def test_pooling_layer(layer: str, shape: str, data_format: str) -> None:
    check_spec(one_layer(layer, shape, data_format), "torch")


def test_average_pooling_same_leaves_padding_out() -> None:
    case = check_spec(
        one_layer("{type: AveragePooling2D, pool_size: 2, padding: same}", "[3, 3, 1]"), "torch"
    )
    x = np.arange(9, dtype=np.float32).reshape(1, 3, 3, 1)
    (out,) = case.run(x=x)
    # TensorFlow pads one row and column at the end; the last windows average fewer values.
    expected = [[(0 + 1 + 3 + 4) / 4, (2 + 5) / 2], [(6 + 7) / 2, 8]]
    np.testing.assert_allclose(out[0, :, :, 0], expected)


def test_max_pooling_same_never_picks_the_padding() -> None:
    case = check_spec(
        one_layer("{type: MaxPooling1D, pool_size: 3, strides: 2, padding: same}", "[4, 1]"),
        "torch",
    )
    x = -np.arange(1, 5, dtype=np.float32).reshape(1, 4, 1)  # all negative: zero padding would win
    (out,) = case.run(x=x)
    # out = 2, pads (0, 1): windows [0:3] and [2:4]
    np.testing.assert_allclose(out[0, :, 0], [-1.0, -3.0])


def test_average_pooling3d_same_leaves_padding_out() -> None:
    case = check_spec(one_layer("{type: AveragePooling3D, padding: same}", "[3, 1, 1, 1]"), "torch")
    x = np.array([1.0, 2.0, 6.0], dtype=np.float32).reshape(1, 3, 1, 1, 1)
    (out,) = case.run(x=x)
    # depth 3 in windows of 2: [1, 2] and [6] (padding at the end, left out of the count)
    np.testing.assert_allclose(out.reshape(-1), [1.5, 6.0])


def test_global_pooling3d_values() -> None:
    case = check_spec(
        one_layer(CASES["gmp3d_channels_first"][0], "[2, 3, 4, 5]", "channels_first"), "torch"
    )
    x = case.inputs["x"]
    np.testing.assert_array_equal(case.outputs[0], x.max(axis=(2, 3, 4)))


def tensorflow_same_pool(x: np.ndarray, kind: str, k: int, s: int) -> np.ndarray:
    """TensorFlow's "same" pooling over the last axis of ``x``: ceil(n / s) windows, the odd
    padding element at the end, the padding never in a maximum or an average."""
    n = x.shape[-1]
    out = -(-n // s)
    before = max((out - 1) * s + k - n, 0) // 2
    windows = [x[..., max(i * s - before, 0) : i * s - before + k] for i in range(out)]
    reduce = np.max if kind == "Max" else np.mean
    return np.stack([reduce(w, axis=-1) for w in windows], axis=-1)


# (kind, length, pool size, strides, native): an uneven "same" padding is nn.*Pool1d's
# ceil_mode where the stride is above 1; with stride 1 the class of our own computes it.
SAME_POOLS = [
    ("Max", 9, 2, 2, True),
    ("Average", 9, 2, 2, True),
    ("Average", 32, 3, 2, True),
    ("Average", 10, 4, 3, True),
    ("Max", 11, 5, 4, True),
    ("Average", 10, 2, 1, False),
    ("Max", 1, 2, 2, False),  # a window larger than the input
]


@pytest.mark.parametrize(("kind", "n", "k", "s", "native"), SAME_POOLS)
def test_same_pooling_of_sequences_channels_first(
    kind: str, n: int, k: int, s: int, native: bool
) -> None:
    spec = f"""
name: case
inputs: [{{name: x, shape: [{n}, 2]}}]
layers:
  - {{type: Conv1D, name: conv, filters: 2, kernel_size: 1, use_bias: false}}
  - {{type: {kind}Pooling1D, name: pool, pool_size: {k}, strides: {s}, padding: same}}
"""
    case = check_spec(spec, "torch")
    module = case.module("pool")
    assert type(module).__module__.startswith("torch.nn") == native
    x = np.random.default_rng(0).standard_normal((2, 2, n)).astype(np.float32)
    got = module(torch.from_numpy(x)).detach().numpy()
    np.testing.assert_allclose(got, tensorflow_same_pool(x, kind, k, s), rtol=1e-6, atol=1e-6)


def ceil_mode_pool(x: np.ndarray, kind: str, k: int, s: int) -> np.ndarray:
    """PyTorch's ceil_mode pooling over the last axis of ``x``, written out: ceil((n − k) / s)
    + 1 windows (less one starting past the input), each clipped to the input, an average
    over the elements inside it."""
    n = x.shape[-1]
    out = -(-(n - k) // s) + 1
    out -= (out - 1) * s >= n
    reduce = np.max if kind == "Max" else np.mean
    return np.stack([reduce(x[..., i * s : i * s + k], axis=-1) for i in range(out)], axis=-1)


# (kind, length, pool size, strides, a convolution first): with one, the pool runs channels
# first, as nn.*Pool1d(ceil_mode=True); without, the class of our own in the spec's layout.
CEIL_POOLS = [
    ("Max", 9, 2, 2, True),
    ("Average", 10, 3, 3, True),  # the last window holds one element: divided by 1
    ("Average", 11, 3, 2, True),
    ("Average", 5, 1, 3, True),  # a window that would start past the input is dropped
    ("Max", 9, 2, 2, False),
    ("Average", 10, 3, 3, False),
]


@pytest.mark.parametrize(("kind", "n", "k", "s", "conv"), CEIL_POOLS)
def test_ceil_mode_pooling_matches_pytorch(kind: str, n: int, k: int, s: int, conv: bool) -> None:
    first = "  - {type: Conv1D, filters: 2, kernel_size: 1, use_bias: false}\n" if conv else ""
    spec = f"""
name: case
inputs: [{{name: x, shape: [{n}, 2]}}]
layers:
{first}  - {{type: {kind}Pooling1D, name: pool, pool_size: {k}, strides: {s}, ceil_mode: true}}
"""
    module = check_spec(spec, "torch").module("pool")
    assert type(module).__module__.startswith("torch.nn") == conv
    x = np.random.default_rng(0).standard_normal((2, 2, n)).astype(np.float32)
    channels_first = x if conv else x.transpose(0, 2, 1)
    got = module(torch.from_numpy(np.ascontiguousarray(channels_first))).detach().numpy()
    got = got if conv else got.transpose(0, 2, 1)
    np.testing.assert_allclose(got, ceil_mode_pool(x, kind, k, s), rtol=1e-6, atol=1e-6)
