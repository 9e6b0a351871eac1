"""Rescaling in onnx: ``x * scale + offset``, no weights; Normalization: mean and variance as the
IR predicts them, ``(x - mean) / max(sqrt(variance), 1e-7)`` or its inverse; both against numpy."""

from __future__ import annotations

import numpy as np
import pytest

from tests.harness import check_spec, one_layer
from tests.references import NORMALIZATION, check_normalization

# (layer, input shape, scale, offset); float32 arithmetic: one rounding per operation.
CASES = [
    ("{type: Rescaling, scale: 0.00392156862745098}", "[4, 4, 3]", 1 / 255, 0.0),
    ("{type: Rescaling, scale: 0.00784313725490196, offset: -1}", "[4, 4, 3]", 1 / 127.5, -1.0),
    ("{type: Rescaling, scale: -2.5, offset: 0.25}", "[5]", -2.5, 0.25),
]
ATOL = 1e-6
FRAMEWORK = "onnx"


@pytest.mark.parametrize(("layer", "shape", "scale", "offset"), CASES, ids=[c[0] for c in CASES])
def test_rescaling_is_x_times_scale_plus_offset(
    layer: str, shape: str, scale: float, offset: float
) -> None:
    case = check_spec(one_layer(layer, shape), "onnx")
    x = case.inputs["x"]
    np.testing.assert_allclose(case.outputs[0], x * scale + offset, atol=ATOL)


@pytest.mark.parametrize("case", sorted(NORMALIZATION))
def test_normalization_is_keras_standardization(case: str) -> None:
    check_normalization(case, FRAMEWORK)
