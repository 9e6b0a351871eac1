"""The shape rules of Dropout's ``noise_shape`` and LayerScale's ``projection_dim``: a mask
that broadcasts (and a scale as long as the last axis) is accepted and reordered for a
channels-first layout; anything else is one error line saying what is accepted."""

from __future__ import annotations

import pytest

from translator.errors import SpecErrors
from translator.spec.loader import load_text


def _spec(shape: str, layer: str) -> str:
    return (
        f"name: s\ninputs: [{{name: x, shape: {shape}}}]\nlayers:\n"
        "  - {name: conv, type: Conv2D, filters: 3, kernel_size: 1}\n"
        f"  - {{name: out, {layer}}}\n"
    )


# (input shape, the Dropout's noise_shape, the noise_shape PyTorch and ONNX apply)
NOISE_SHAPES = [
    ("[4, 4, 3]", "[null, 1, 1, 1]", (None, 1, 1, 1)),
    ("[4, 4, 3]", "[null, 1, 1, 3]", (None, 3, 1, 1)),  # channels first
    ("[4, 4, 3]", "[null, 4, 1, null]", (None, None, 4, 1)),
]


@pytest.mark.parametrize(("shape", "noise", "physical"), NOISE_SHAPES)
def test_a_noise_shape_is_reordered_for_channels_first(
    shape: str, noise: str, physical: tuple[int | None, ...]
) -> None:
    graph = load_text(_spec(shape, f"type: Dropout, rate: 0.2, noise_shape: {noise}"))
    assert graph.node("out").physical_args["noise_shape"] == physical


# (input shape, layer, the message after the layer's name and type, what is accepted)
REFUSED = [
    (
        "[4, 4, 3]",
        "type: Dropout, rate: 0.2, noise_shape: [null, 1, 1]",
        "noise_shape [None, 1, 1] does not broadcast to the input",
        "4 sizes (batch axis first), each null, 1 or the input's size",
    ),
    (
        "[4, 4, 3]",
        "type: Dropout, rate: 0.2, noise_shape: [null, 2, 1, 1]",
        "noise_shape [None, 2, 1, 1] does not broadcast to the input",
        "4 sizes (batch axis first), each null, 1 or the input's size",
    ),
    (
        "[4, 4, 3]",
        "type: LayerScale, init_values: 0.1, projection_dim: 4",
        "projection_dim=4 is not the last axis's size",
        "projection_dim: 3",
    ),
]


@pytest.mark.parametrize(("shape", "layer", "message", "accepted"), REFUSED)
def test_a_mismatch_is_one_line(shape: str, layer: str, message: str, accepted: str) -> None:
    with pytest.raises(SpecErrors) as caught:
        load_text(_spec(shape, layer), "spec.yaml")
    (line,) = (e.render() for e in caught.value.errors)
    kind = layer.split(",")[0].removeprefix("type: ")
    assert line.startswith(f"spec.yaml:5:5: error: layer 'out' ({kind}): {message}.")
    assert line.endswith(f"; {accepted}")
