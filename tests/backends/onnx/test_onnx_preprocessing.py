"""Rescaling in onnx: ``x * scale + offset``, no weights; Normalization: mean and variance as the
IR predicts them, ``(x - mean) / max(sqrt(variance), 1e-7)`` or its inverse; both against numpy."""

from __future__ import annotations

import pytest

from tests.references import NORMALIZATION, RESCALING, check_normalization, check_rescaling

FRAMEWORK = "onnx"


@pytest.mark.parametrize("case", range(len(RESCALING)), ids=[c[0] for c in RESCALING])
def test_rescaling_is_x_times_scale_plus_offset(case: int) -> None:
    check_rescaling(case, FRAMEWORK)


@pytest.mark.parametrize("case", sorted(NORMALIZATION))
def test_normalization_is_keras_standardization(case: str) -> None:
    check_normalization(case, FRAMEWORK)
