"""The Keras 3 (TensorFlow backend) backend: builds a functional ``keras.Model`` from the IR.

Importing this package imports Keras. The family modules are imported explicitly below so
that their ``@BUILDERS.register`` decorators run; ``model`` holds the registry and the
``build`` / ``measure`` / ``run`` entry points.
"""

from __future__ import annotations

import os

# Must be set before Keras is first imported: Keras picks its backend, and TensorFlow its
# C++ log level, at import time. setdefault keeps a caller's explicit choice.
os.environ.setdefault("KERAS_BACKEND", "tensorflow")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

from backends.keras import (  # noqa: F401  (imported for their registrations)
    activation,
    attention,
    conv,
    conv_transpose,
    core,
    depthwise,
    merge,
    normalization,
    pooling,
    recurrent,
    reshape,
    wrappers,
)
from backends.keras.model import BUILDERS, NAME, build, measure, run
from backends.keras.weights import get_weights, layer_outputs, load_weights_file, set_weights

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
