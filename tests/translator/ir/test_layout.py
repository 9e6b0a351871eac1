"""The export layout rule, framework-free: which tensors PyTorch and ONNX take channels first."""

from __future__ import annotations

import numpy as np
import pytest

from tests.conftest import ROOT
from translator.ir import Graph
from translator.ir.layout import (
    fresh_name,
    inverse,
    natural_axes,
    same_pads,
    stack_name,
    tensor_layouts,
    to_layout,
)
from translator.spec.loader import load, load_text


def spec(name: str):
    return load(str(ROOT / "specs" / f"{name}.yaml"))


@pytest.mark.parametrize(
    ("name", "axes", "natural"),
    [
        ("mnist_cnn", (0, 3, 1, 2), (None, 1, 28, 28)),  # (H, W, C) → (C, H, W)
        ("video_classifier", (0, 1, 4, 2, 3), (None, None, 3, 16, 16)),  # frames (T, C, H, W)
        ("channels_first_cnn", None, (None, 3, 32, 32)),  # written channels first already
        ("seed_lstm", None, (None, None, 1)),  # a sequence: (batch, time, features) everywhere
        ("signal_cnn", (0, 2, 1), (None, 3, 128)),  # 1-D convolutions: (C, T), as nn.Conv1d
        ("sequence_reshaper", None, (None, 32, 20)),  # rank 2 before its Conv2D: a sequence
    ],
)
def test_natural_layout_of_inputs(name: str, axes: tuple | None, natural: tuple) -> None:
    (tensor,) = tensor_layouts(spec(name)).inputs
    assert tensor.axes == axes
    assert tensor.natural_shape() == natural


def test_rank_three_inputs_of_specs_without_images_keep_their_layout() -> None:
    graph = load_text(
        "name: norms\ninputs: [{name: x, shape: [3, 4, 2]}]\nlayers: [{type: LayerNormalization}]"
    )
    assert natural_axes(graph, (3, 4, 2)) is None


def test_image_outputs_are_channels_first_too() -> None:
    graph = load_text(
        "name: images\ninputs: [{name: x, shape: [8, 8, 3]}]\n"
        "layers: [{type: Conv2D, filters: 4, kernel_size: 3}, {type: GlobalMaxPooling2D}]\n"
        "outputs: [conv2d, global_max_pooling2d]"
    )
    image, vector = tensor_layouts(graph).outputs
    assert (image.axes, image.natural_shape()) == ((0, 3, 1, 2), (None, 4, 6, 6))
    assert vector.axes is None


def test_to_layout_and_back_are_inverse() -> None:
    (tensor,) = tensor_layouts(spec("video_classifier")).inputs
    x = np.arange(2 * 5 * 16 * 16 * 3, dtype=np.float32).reshape(2, 5, 16, 16, 3)
    (natural,) = to_layout([x], [tensor], natural=True)
    assert natural.shape == (2, 5, 3, 16, 16)
    assert natural[1, 2, 0, 3, 4] == x[1, 2, 3, 4, 0]
    (back,) = to_layout([natural], [tensor], natural=True, back=True)
    assert np.array_equal(back, x)
    assert inverse((0, 1, 4, 2, 3)) == (0, 1, 3, 4, 2)


def _one_layer(shape: str, layer: str) -> Graph:
    return load_text(f"name: s\ninputs: [{{name: x, shape: {shape}}}]\nlayers: [{layer}]")


@pytest.mark.parametrize(
    ("shape", "layer", "axes", "natural"),
    [
        # Volumes put their channels before the three spatial axes.
        (
            "[4, 5, 6, 2]",
            "{type: Conv3D, filters: 3, kernel_size: 2}",
            (0, 4, 1, 2, 3),
            (None, 2, 4, 5, 6),
        ),
        ("[4, 5, 6, 2]", "{type: ZeroPadding3D}", (0, 4, 1, 2, 3), (None, 2, 4, 5, 6)),
        # Every 2-D spatial layer type makes an image spec, not only convolutions.
        ("[4, 5, 3]", "{type: UpSampling2D}", (0, 3, 1, 2), (None, 3, 4, 5)),
        ("[4, 5, 3]", "{type: Cropping2D, cropping: 1}", (0, 3, 1, 2), (None, 3, 4, 5)),
        ("[4, 5, 3]", "{type: DepthwiseConv2D, kernel_size: 2}", (0, 3, 1, 2), (None, 3, 4, 5)),
        # 1-D convolutions take sequences channels first, as nn.Conv1d does.
        ("[9, 3]", "{type: Conv1D, filters: 2, kernel_size: 3}", (0, 2, 1), (None, 3, 9)),
        ("[9, 3]", "{type: SeparableConv1D, filters: 2, kernel_size: 3}", (0, 2, 1), (None, 3, 9)),
        ("[9, 3]", "{type: Conv1DTranspose, filters: 2, kernel_size: 3}", (0, 2, 1), (None, 3, 9)),
        # Other 1-D layers alone read sequences, which stay (batch, time, features).
        ("[9, 3]", "{type: UpSampling1D}", None, (None, 9, 3)),
        ("[9, 3]", "{type: GlobalAveragePooling1D}", None, (None, 9, 3)),
        ("[9, 3]", "{type: MaxPooling1D}", None, (None, 9, 3)),
    ],
)
def test_natural_layout_by_spatial_rank(
    shape: str, layer: str, axes: tuple | None, natural: tuple
) -> None:
    (tensor,) = tensor_layouts(_one_layer(shape, layer)).inputs
    assert tensor.axes == axes
    assert tensor.natural_shape() == natural


def test_a_spec_with_2d_and_3d_layers_takes_the_3d_rule() -> None:
    graph = load_text(
        "name: mixed\ninputs: [{name: v, shape: [4, 4, 4, 2]}, {name: i, shape: [6, 6, 3]}]\n"
        "layers:\n  - {type: Conv3D, filters: 2, kernel_size: 2, inputs: v}\n"
        "  - {type: Conv2D, filters: 2, kernel_size: 2, inputs: i}\n"
        "outputs: [conv3d, conv2d]"
    )
    volume, image = tensor_layouts(graph).inputs
    assert volume.axes == (0, 4, 1, 2, 3)
    assert image.axes is None  # rank 3: not a volume


def test_same_pads_are_tensorflows() -> None:
    graph = _one_layer(
        "[9, 8, 3]", "{type: DepthwiseConv2D, kernel_size: 3, strides: [2, 3], padding: same}"
    )
    # rows: ceil(9/2) = 5 outputs need 2*4 + 3 - 9 = 2 zeros; columns: 3 outputs, 3*2 + 3 - 8 = 1
    assert same_pads(graph.layers[0], "keras") == ((1, 1), (0, 1))


def test_added_layers_never_take_a_spec_layers_name() -> None:
    graph = load_text(
        "name: taken\ninputs: [{name: x, shape: [4, 3]}]\n"
        "layers: [{name: rnn, type: LSTM, units: 2, num_layers: 2}, {name: rnn_layer_1, type: Dense, units: 2}]"
    )
    assert stack_name(graph, "rnn", 1) == "rnn_layer_1_"
    assert fresh_name(graph, "rnn__last") == "rnn__last"
