"""Fixtures of the ONNX backend tests: thin bindings of the shared harness (``tests/harness.py``)
to the ONNX backend, for the tests that take ``check``, ``forward``, ``load_spec`` and
``backend`` as arguments."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import pytest

from tests import harness
from translator.ir import Graph


@pytest.fixture(scope="session")
def backend() -> Any:
    import backends.onnx

    return backends.onnx


@pytest.fixture(scope="session")
def check() -> Callable[[str], harness.Case]:
    """``check(body)``: ``harness.check_spec(body, "onnx")``."""

    def run_case(body: str) -> harness.Case:
        return harness.check_spec(body, "onnx")

    return run_case


@pytest.fixture(scope="session")
def forward() -> Callable[..., list[np.ndarray]]:
    """``forward(body, inputs, weights=None)``: the outputs of a spec on given inputs."""

    def run_forward(body: str, inputs: dict[str, Any], weights: Any = None) -> list[np.ndarray]:
        return harness.forward(body, "onnx", inputs, weights)

    return run_forward


@pytest.fixture(scope="session")
def load_spec() -> Callable[[str], Graph]:
    """``load_spec(body)``: the IR graph of an inline spec."""
    return harness.load
