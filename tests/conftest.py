"""Shared test setup: quiet, deterministic frameworks and markers derived from the path.

Tests under ``tests/backends/<fw>/`` get the ``<fw>`` marker, so ``pytest -m "not torch"``
works; tests that build in all three frameworks carry ``frameworks`` themselves.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

# Before any framework is imported: quiet TensorFlow, deterministic oneDNN kernels.
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
os.environ.setdefault("TF_ENABLE_ONEDNN_OPTS", "0")

ROOT = Path(__file__).resolve().parent.parent
SPECS = sorted((ROOT / "specs").glob("*.yaml"))
ZOO = sorted((ROOT / "specs" / "zoo").glob("*.yaml"))
FRAMEWORK_DIRS = ("keras", "torch", "onnx")


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    for item in items:
        parts = Path(str(item.fspath)).relative_to(ROOT).parts
        if len(parts) > 2 and parts[:2] == ("tests", "backends") and parts[2] in FRAMEWORK_DIRS:
            item.add_marker(getattr(pytest.mark, parts[2]))


@pytest.fixture(autouse=True)
def _pin_torch_numerics() -> None:
    """TF32 off and a fixed seed whenever PyTorch is already loaded (never imports it)."""
    import sys

    torch = sys.modules.get("torch")
    if torch is not None:
        torch.backends.cuda.matmul.allow_tf32 = False
        torch.backends.cudnn.allow_tf32 = False
        torch.manual_seed(0)
