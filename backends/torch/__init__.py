"""The PyTorch backend: builds a spec's IR as one ``torch.nn.Module`` and measures it.

The family modules are imported explicitly so their ``@BUILDERS.register`` decorators run;
``model`` holds the registry and the assembly, measurement and forward pass.
"""

from __future__ import annotations

from backends.torch import (  # noqa: F401  (imported for their registrations)
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
from backends.torch.model import BUILDERS, NAME, build, measure, run
from backends.torch.weights import get_weights, layer_outputs, load_weights_file, set_weights

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
