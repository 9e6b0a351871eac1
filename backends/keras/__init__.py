"""The Keras 3 (TensorFlow backend) backend: builds a functional ``keras.Model`` from the IR.

Importing this package imports Keras. The family modules (one per ``translator.ops.FAMILIES``
entry) are imported below so that their ``@BUILDERS.register`` decorators run; ``model`` holds the registry and the
``build`` / ``measure`` / ``run`` entry points.
"""

from __future__ import annotations

import contextlib
import os
import sys
from collections.abc import Iterator

# Must be set before Keras is first imported: Keras picks its backend, and TensorFlow its
# C++ log level, at import time. setdefault keeps a caller's explicit choice.
os.environ.setdefault("KERAS_BACKEND", "tensorflow")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")


@contextlib.contextmanager
def _native_stderr_silenced() -> Iterator[None]:
    """Silence file descriptor 2 while TensorFlow loads: its C++ runtime prints a few lines
    there (oneDNN, CUDA drivers) before its logging is set up, so TF_CPP_MIN_LOG_LEVEL cannot
    stop them, and a report piped or in CI should carry nothing extra."""
    try:
        fd = sys.stderr.fileno()
    except (AttributeError, OSError, ValueError):  # no real stderr (captured): nothing to do
        yield
        return
    sys.stderr.flush()
    saved = os.dup(fd)
    with open(os.devnull, "w") as null:
        os.dup2(null.fileno(), fd)
    try:
        yield
    finally:
        os.dup2(saved, fd)
        os.close(saved)


with _native_stderr_silenced():
    import keras  # noqa: F401  (the first import loads TensorFlow)

from backends.base import load_families  # noqa: E402

# The family modules must follow the quiet first import of TensorFlow above; importing them
# runs their @BUILDERS.register decorators. The list of families is translator.ops's.
load_families("backends.keras")
import backends.keras.attention_importing  # noqa: E402, F401  (its importers register)
from backends.keras.model import BUILDERS, NAME, build, measure, run  # noqa: E402
from backends.keras.weights import (  # noqa: E402
    get_weights,
    layer_outputs,
    load_weights_file,
    set_weights,
)

__all__ = [
    "BUILDERS",
    "NAME",
    "build",
    "get_weights",
    "layer_outputs",
    "load_weights_file",
    "measure",
    "run",
    "set_weights",
]
