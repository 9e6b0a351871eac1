"""Framework backends, loaded lazily by name.

``translator`` never imports a framework; ``load("torch")`` imports ``backends.torch`` (and
so PyTorch) the first time a command needs it. Each backend package exposes the same four
names: ``NAME``, ``BUILDERS`` (a ``BuilderRegistry``), ``build``, ``measure`` and ``run``.
"""

from __future__ import annotations

import importlib
from types import ModuleType

from translator.errors import BackendError

# Framework name → module path (a lazy registry: nothing is imported until asked for).
BACKENDS: dict[str, str] = {
    "keras": "backends.keras",
    "torch": "backends.torch",
    "onnx": "backends.onnx",
}
INSTALL_HINT = {
    "keras": "pip install 'tensorflow>=2.21,<2.22'",
    "torch": "pip install torch==2.13.0",
    "onnx": "pip install onnx onnxruntime",
}


def load(framework: str) -> ModuleType:
    """Import and return the backend module for ``framework`` (cached by Python)."""
    try:
        path = BACKENDS[framework]
    except KeyError:
        raise BackendError(
            f"unknown framework {framework!r}; known: {', '.join(BACKENDS)}"
        ) from None
    try:
        return importlib.import_module(path)
    except ImportError as exc:
        raise BackendError(
            f"cannot load the {framework} backend ({exc}); install it: {INSTALL_HINT[framework]}"
        ) from exc
