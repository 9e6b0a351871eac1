"""Transposed convolutions in PyTorch (Conv1D/2D/3DTranspose): valid and same padding with
strides, even kernels, dilation, explicit and default (null) output_padding, both layouts;
numerics against a numpy reference that computes TensorFlow's definition directly, as the
adjoint of a forward convolution over the output."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from backends.torch.model import describe
from backends.torch.standalone.assemble import as_steps
from tests.backends.torch.test_torch_conv import tf_same_pads
from tests.harness import check_spec, one_layer, set_parameters
from translator.spec.loader import load_text

CASES = {
    "t1d_valid": ("{type: Conv1DTranspose, filters: 2, kernel_size: 3}", "[5, 3]", ""),
    "t1d_valid_stride_small_kernel": (
        "{type: Conv1DTranspose, filters: 2, kernel_size: 2, strides: 3}",
        "[5, 3]",
        "",
    ),
    "t1d_same_even_kernel": (
        "{type: Conv1DTranspose, filters: 2, kernel_size: 4, strides: 2, padding: same}",
        "[null, 3]",
        "",
    ),
    "t1d_output_padding": (
        "{type: Conv1DTranspose, filters: 2, kernel_size: 5, strides: 3, output_padding: 2}",
        "[4, 1]",
        "",
    ),
    "t1d_dilated_same": (
        "{type: Conv1DTranspose, filters: 2, kernel_size: 3, dilation_rate: 2, padding: same}",
        "[5, 3]",
        "",
    ),
    "t2d_same_stride": (
        "{type: Conv2DTranspose, filters: 3, kernel_size: [3, 4], strides: 2, padding: same}",
        "[4, 5, 2]",
        "",
    ),
    "t2d_channels_first_output_padding": (
        (
            "{type: Conv2DTranspose, filters: 2, kernel_size: 3, strides: [2, 3],"
            " output_padding: [1, 2], use_bias: false}"
        ),
        "[3, 4, 5]",
        "channels_first",
    ),
    "t2d_activation": (
        "{type: Conv2DTranspose, filters: 2, kernel_size: 2, strides: 2, activation: relu}",
        "[3, 3, 1]",
        "",
    ),
    "t3d_same": (
        "{type: Conv3DTranspose, filters: 2, kernel_size: 3, strides: 2, padding: same}",
        "[3, 2, 2, 2]",
        "",
    ),
    "t3d_channels_first": (
        "{type: Conv3DTranspose, filters: 2, kernel_size: [1, 2, 3]}",
        "[2, 3, 2, 2]",
        "channels_first",
    ),
}


@pytest.mark.parametrize("layer,shape,data_format", CASES.values(), ids=CASES.keys())
def test_conv_transpose_layer(layer: str, shape: str, data_format: str) -> None:
    check_spec(one_layer(layer, shape, data_format), "torch")


def transpose_reference(
    x: np.ndarray, kernel: np.ndarray, out_sizes: tuple[int, ...], args: dict
) -> np.ndarray:
    """TensorFlow's transposed convolution, channels-last, from its definition: every input
    element adds ``x · kernel`` at the output positions the forward convolution of an
    ``out_sizes`` input (same padding split as TensorFlow splits it) would read it from.
    ``kernel`` is Keras's (*k, filters, in)."""
    rank = x.ndim - 2
    strides, dilation = args["strides"], args["dilation_rate"]
    before = [
        tf_same_pads(o, k, s, d)[0] if args["padding"] == "same" else 0
        for o, k, s, d in zip(out_sizes, kernel.shape[:rank], strides, dilation, strict=True)
    ]
    out = np.zeros((x.shape[0], *out_sizes, kernel.shape[-2]))
    for i in itertools.product(*(range(n) for n in x.shape[1:-1])):
        for k in itertools.product(*(range(n) for n in kernel.shape[:rank])):
            o = [
                a * s + b * d - p
                for a, b, s, d, p in zip(i, k, strides, dilation, before, strict=True)
            ]
            if all(0 <= v < n for v, n in zip(o, out_sizes, strict=True)):
                out[(slice(None), *o)] += x[(slice(None), *i)] @ kernel[k].T
    return out


REFERENCE_CASES = [
    "t1d_valid_stride_small_kernel",
    "t1d_same_even_kernel",
    "t1d_output_padding",
    "t1d_dilated_same",
    "t2d_same_stride",
]


@pytest.mark.parametrize("name", REFERENCE_CASES)
def test_conv_transpose_matches_tensorflow_definition(name: str) -> None:
    layer, shape, _ = CASES[name]
    assert_tensorflow_definition(layer, shape)


def assert_tensorflow_definition(layer: str, shape: str) -> None:
    """The one-layer spec's PyTorch output against ``transpose_reference``."""
    case = check_spec(one_layer(layer, shape), "torch")
    node = case.graph.nodes[-1]
    weight = case.module(node.name).weight.detach().numpy()  # (in, filters, *k)
    rank = weight.ndim - 2
    kernel = weight.transpose(*range(2, 2 + rank), 1, 0)
    set_parameters(case.module(node.name), bias=0.25)
    x = case.inputs["x"]
    out_sizes = case.outputs[0].shape[1:-1]
    expected = transpose_reference(x, kernel, out_sizes, node.args) + 0.25
    np.testing.assert_allclose(case.run(x=x)[0], expected, rtol=1e-5, atol=1e-5)


# (kernel, strides, dilation, padding) → whether nn.ConvTranspose1d's padding and
# output_padding cut Keras's window: "same" needs an even D - s (D = dilation·(k - 1) + 1) or
# a D below the stride; an odd D - s keeps Conv1DTranspose (one more cut at the end).
NATIVE_CUTS = {
    (3, 1, 1, "same"): True,
    (5, 1, 1, "same"): True,
    (2, 2, 1, "same"): True,
    (4, 2, 1, "same"): True,
    (5, 3, 1, "same"): True,
    (3, 1, 2, "same"): True,
    (1, 2, 1, "same"): True,
    (2, 3, 1, "same"): True,
    (2, 1, 1, "same"): False,
    (4, 1, 1, "same"): False,
    (3, 2, 1, "same"): False,
    (5, 2, 1, "same"): False,
    (4, 3, 1, "same"): False,
    (3, 2, 1, "valid"): True,
    (1, 3, 1, "valid"): True,
}


@pytest.mark.parametrize(("window", "native"), NATIVE_CUTS.items(), ids=str)
@pytest.mark.parametrize("length", ["9", "null"])
def test_conv_transpose_is_native_where_padding_cuts_keras_window(
    window: tuple[int, int, int, str], native: bool, length: str
) -> None:
    k, s, d, padding = window
    layer = (
        f"{{type: Conv1DTranspose, filters: 2, kernel_size: {k}, strides: {s},"
        f" dilation_rate: {d}, padding: {padding}}}"
    )
    node = next(n for n in load_text(one_layer(layer, f"[{length}, 3]")).nodes if n.inputs)
    main = as_steps(describe(node)).main
    assert main.name == ("nn.ConvTranspose1d" if native else "Conv1DTranspose")
    if length == "9":  # the module, native or not, computes TensorFlow's definition
        assert_tensorflow_definition(layer, "[9, 3]")
