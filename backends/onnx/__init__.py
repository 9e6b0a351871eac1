"""The ONNX backend: builds an ``onnx.ModelProto`` from standard operators, runs it in
onnxruntime, and measures the weights its initializers hold.

The family modules are imported explicitly so their ``@BUILDERS.register`` decorators run.
"""

from __future__ import annotations

from backends.onnx import (  # noqa: F401  (imported for their registrations)
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
from backends.onnx.model import BUILDERS, NAME, build, measure, run
from backends.onnx.weights import get_weights, layer_outputs, load_weights_file, set_weights

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
