"""Conv1D, Conv2D and Conv3D: strides with same padding, even kernels, dilation, groups,
causal, channels_first. channels_first must compute exactly what channels_last computes."""

from __future__ import annotations

import keras
import numpy as np
import pytest

from tests.harness import check_spec, one_layer

pytestmark = pytest.mark.keras

CONV1D = [
    "{type: Conv1D, filters: 4, kernel_size: 3}",
    "{type: Conv1D, filters: 4, kernel_size: 4, strides: 2, padding: same}",
    "{type: Conv1D, filters: 2, kernel_size: 3, padding: causal, dilation_rate: 2}",
    "{type: Conv1D, filters: 6, kernel_size: 3, groups: 3, padding: same}",
    "{type: Conv1D, filters: 3, kernel_size: 2, use_bias: false, activation: relu}",
]
CONV2D = [
    "{type: Conv2D, filters: 4, kernel_size: 3}",
    "{type: Conv2D, filters: 4, kernel_size: [2, 3], strides: 2, padding: same}",
    "{type: Conv2D, filters: 2, kernel_size: 3, dilation_rate: 2, padding: same}",
    "{type: Conv2D, filters: 3, kernel_size: 3, groups: 3, strides: [1, 2]}",
    "{type: Conv2D, filters: 5, kernel_size: 1, use_bias: false, activation: sigmoid}",
]
CONV3D = [
    "{type: Conv3D, filters: 2, kernel_size: 3}",
    "{type: Conv3D, filters: 3, kernel_size: [2, 3, 1], strides: 2, padding: same}",
    "{type: Conv3D, filters: 4, kernel_size: 2, groups: 2, dilation_rate: [2, 1, 1]}",
]
CASES = [(c, "[9, 6]", "channels_last") for c in CONV1D]
CASES += [(c, "[6, 9]", "channels_first") for c in CONV1D]
CASES += [(c, "[8, 7, 6]", "channels_last") for c in CONV2D]
CASES += [(c, "[6, 8, 7]", "channels_first") for c in CONV2D]
CASES += [(c, "[5, 4, 6, 2]", "channels_last") for c in CONV3D]
CASES += [(c, "[2, 5, 4, 6]", "channels_first") for c in CONV3D]


@pytest.mark.parametrize(("layer", "shape", "data_format"), CASES)
def test_conv_layer(layer: str, shape: str, data_format: str) -> None:
    check_spec(one_layer(layer, shape, data_format), "keras")


# The conv args with the channels_first and channels_last input shapes of one example.
SAME_EITHER_WAY = [
    ("type: Conv1D, filters: 4, kernel_size: 3, padding: causal, dilation_rate: 2", (6, 9)),
    ("type: Conv1D, filters: 6, kernel_size: 4, strides: 2, padding: same, groups: 2", (6, 9)),
    ("type: Conv1D, filters: 3, kernel_size: 3, activation: tanh", (6, 9)),
    ("type: Conv2D, filters: 4, kernel_size: [2, 3], strides: 2, padding: same", (6, 8, 7)),
    ("type: Conv2D, filters: 4, kernel_size: 3, dilation_rate: [2, 1]", (6, 8, 7)),
    ("type: Conv2D, filters: 6, kernel_size: 3, groups: 3, activation: relu", (6, 8, 7)),
    ("type: Conv3D, filters: 3, kernel_size: [2, 3, 2], strides: 2, padding: same", (2, 5, 4, 3)),
    ("type: Conv3D, filters: 3, kernel_size: 2, dilation_rate: [1, 2, 1]", (2, 5, 4, 3)),
]


@pytest.mark.parametrize(("args", "first_shape"), SAME_EITHER_WAY)
def test_channels_first_computes_what_channels_last_computes(
    args: str, first_shape: tuple[int, ...]
) -> None:
    last_shape = (*first_shape[1:], first_shape[0])
    first = check_spec(
        one_layer(f"{{name: c, {args}}}", list(first_shape), "channels_first"), "keras"
    )
    last = check_spec(one_layer(f"{{name: c, {args}}}", list(last_shape), "channels_last"), "keras")
    last.layer("c").set_weights(first.layer("c").get_weights())  # same kernel layout either way
    rank = len(first_shape) - 1
    to_last, to_first = (0, *range(2, rank + 2), 1), (0, rank + 1, *range(1, rank + 1))
    x = first.inputs["x"]
    (out_first,) = first.run(x=x)
    (out_last,) = last.run(x=np.transpose(x, to_last))
    np.testing.assert_allclose(out_first, np.transpose(out_last, to_first), atol=1e-5)


@pytest.mark.parametrize(
    ("layer", "shape"),
    [
        (
            "{name: c, type: Conv1D, filters: 4, kernel_size: 3, groups: 2, activation: softmax}",
            "[4, 9]",
        ),
        (
            "{name: c, type: Conv2D, filters: 6, kernel_size: 2, groups: 3, activation: softmax}",
            "[3, 5, 4]",
        ),
        ("{name: c, type: Conv3D, filters: 2, kernel_size: 2, activation: relu}", "[2, 4, 5, 4]"),
    ],
)
def test_channels_first_matches_keras_own_class(layer: str, shape: str) -> None:
    """Where Keras's own channels_first class runs on any CPU (grouped convolutions and 3-D
    ones go through XLA), it agrees with ours, including a softmax taken over the last
    (spatial) axis."""
    case = check_spec(one_layer(layer, shape, "channels_first"), "keras")
    ours = case.layer("c")
    stock = getattr(keras.layers, case.graph.node("c").type).from_config(ours.get_config())
    x = case.inputs["x"]
    stock(x)  # builds it
    stock.set_weights(ours.get_weights())
    np.testing.assert_allclose(case.outputs[0], stock(x).numpy(), atol=1e-5)


def test_causal_conv_sees_only_the_past() -> None:
    case = check_spec(
        one_layer("{name: c, type: Conv1D, filters: 1, kernel_size: 3, padding: causal}", "[6, 1]"),
        "keras",
    )
    case.layer("c").set_weights([np.ones((3, 1, 1), np.float32), np.zeros(1, np.float32)])
    x = np.arange(1, 7, dtype=np.float32).reshape(1, 6, 1)
    (out,) = case.run(x=x)
    np.testing.assert_allclose(out[0, :, 0], [1, 3, 6, 9, 12, 15])


@pytest.mark.parametrize(
    ("layer", "shape"),
    [
        ("{name: c, type: Conv1D, filters: 3, kernel_size: 2}", "[2, 4]"),
        ("{name: c, type: Conv2D, filters: 3, kernel_size: 1}", "[2, 4, 3]"),
        ("{name: c, type: Conv3D, filters: 3, kernel_size: 1}", "[2, 2, 4, 3]"),
    ],
)
def test_channels_first_bias_goes_on_the_channel_axis(layer: str, shape: str) -> None:
    """Where the last spatial size equals the filter count: Keras 3.15's TF ``ops.add`` turns
    a channels_first bias add into an NHWC ``bias_add`` there; ours adds it in channels_last."""
    case = check_spec(one_layer(layer, shape, "channels_first"), "keras")
    kernel = case.layer("c").kernel
    bias = np.arange(1, 4, dtype=np.float32)
    case.layer("c").set_weights([np.zeros(kernel.shape, np.float32), bias])
    (out,) = case.run(x=case.inputs["x"])
    assert out.shape[1] == out.shape[-1] == 3
    per_channel = bias.reshape(1, 3, *(1,) * (out.ndim - 2))
    np.testing.assert_array_equal(out, np.broadcast_to(per_channel, out.shape))
