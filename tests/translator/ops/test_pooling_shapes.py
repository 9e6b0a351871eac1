"""The shape rule of the windowed pools' ``ceil_mode``: PyTorch's output lengths (a last
window that would start past the input dropped), and one error line for ``padding: same``."""

from __future__ import annotations

import pytest

from translator.errors import SpecErrors
from translator.spec.loader import load_text


def _spec(shape: str, layer: str) -> str:
    return f"name: s\ninputs: [{{name: x, shape: {shape}}}]\nlayers:\n  - {{name: out, {layer}}}\n"


# (input shape, layer arguments, output shape per example): the lengths torch.nn.MaxPool*d
# (ceil_mode=True) gives, checked against torch in tests/backends/torch/test_torch_pooling.py.
CEIL_SHAPES = [
    ("[9, 3]", "type: MaxPooling1D, ceil_mode: true", (5, 3)),  # floor: 4
    ("[8, 3]", "type: MaxPooling1D, ceil_mode: true", (4, 3)),  # the windows tile: as floor
    (
        "[109, 109, 64]",
        "type: MaxPooling2D, pool_size: 3, strides: 2, ceil_mode: true",
        (54, 54, 64),
    ),
    ("[10, 2]", "type: AveragePooling1D, pool_size: 3, ceil_mode: true", (4, 2)),
    ("[5, 2]", "type: AveragePooling1D, pool_size: 1, strides: 3, ceil_mode: true", (2, 2)),
    ("[null, 2]", "type: MaxPooling1D, ceil_mode: true", (None, 2)),
    (
        "[2, 11, 10]",
        "type: MaxPooling2D, pool_size: 3, strides: 2, ceil_mode: true, data_format: channels_first",
        (2, 5, 5),
    ),
    ("[5, 4, 5, 1]", "type: AveragePooling3D, ceil_mode: true", (3, 2, 3, 1)),
]


@pytest.mark.parametrize(("shape", "layer", "expected"), CEIL_SHAPES)
def test_ceil_mode_output_lengths(shape: str, layer: str, expected: tuple[int | None]) -> None:
    assert load_text(_spec(shape, layer)).node("out").output_shape == expected


def test_ceil_mode_with_padding_same_is_one_line() -> None:
    layer = "type: MaxPooling1D, padding: same, ceil_mode: true"
    with pytest.raises(SpecErrors) as caught:
        load_text(_spec("[9, 3]", layer), "spec.yaml")
    (line,) = (e.render() for e in caught.value.errors)
    assert line == (
        "spec.yaml:4:5: error: layer 'out' (MaxPooling1D): ceil_mode: true takes padding"
        " 'valid' (PyTorch's pools have no 'same'); Received: padding=same. Received input"
        " shape (None, 9, 3); use padding: valid with ceil_mode: true, or leave ceil_mode out"
    )
