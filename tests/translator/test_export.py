"""The export layout rule, framework-free: which tensors PyTorch and ONNX take channels first."""

from __future__ import annotations

import numpy as np
import pytest

from tests.conftest import ROOT
from translator.export import inverse, natural_axes, tensor_layouts, to_layout
from translator.loader import load, load_text


def spec(name: str):
    return load(str(ROOT / "specs" / f"{name}.yaml"))


@pytest.mark.parametrize(
    ("name", "axes", "natural"),
    [
        ("mnist_cnn", (0, 3, 1, 2), (None, 1, 28, 28)),  # (H, W, C) → (C, H, W)
        ("video_classifier", (0, 1, 4, 2, 3), (None, None, 3, 16, 16)),  # frames (T, C, H, W)
        ("channels_first_cnn", None, (None, 3, 32, 32)),  # written channels first already
        ("seed_lstm", None, (None, None, 1)),  # a sequence: (batch, time, features) everywhere
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
