"""Rotary embeddings' base, read back off the cos and sin tables a file holds (Llama's
``rope_theta``), and tables made otherwise refused."""

from __future__ import annotations

import numpy as np
import pytest

from backends.onnx.importing import Refused
from backends.onnx.rotary_reading import base

STEPS, SIZE = 8, 16


def _tables(theta: float, steps: int = STEPS) -> tuple[np.ndarray, np.ndarray]:
    """Llama's float32 tables (1, 1, steps, size) for base ``theta``."""
    inverse = 1.0 / theta ** (np.arange(0, SIZE, 2, dtype=np.float64) / SIZE)
    angles = np.arange(steps)[:, None] * inverse[None, :]
    angles = np.concatenate([angles, angles], axis=-1)[None, None].astype(np.float32)
    return np.cos(angles), np.sin(angles)


@pytest.mark.parametrize("theta", [10000.0, 500000.0])
def test_the_base_is_read_off_the_tables(theta: float) -> None:
    cos, sin = _tables(theta)
    assert base([cos], [sin], SIZE) == theta


def test_tables_cut_to_each_run_time_length_give_one_base() -> None:
    """A file of dynamic length: the tables at each length probed, of one base."""
    (cos3, sin3), (cos5, sin5) = _tables(10000.0, 3), _tables(10000.0, 5)
    assert base([cos3, cos5], [sin3, sin5], SIZE) == 10000.0
    with pytest.raises(Refused, match="another base at another length"):
        base([cos3, _tables(500000.0, 5)[0]], [sin3, _tables(500000.0, 5)[1]], SIZE)


def test_tables_of_another_formula_are_refused() -> None:
    cos, sin = _tables(10000.0)
    cos[..., 3, 5] += 0.01
    with pytest.raises(Refused, match="other than Llama's rotary embeddings"):
        base([cos], [sin], SIZE)
