"""The PyTorch backend: builds a spec's IR as one ``torch.nn.Module`` and measures it.

The family modules, one per ``translator.ops.FAMILIES`` entry, are imported so their
``@describes`` decorators run (and ``attention_reading``, so its importers register); ``model`` holds the registries and the assembly, measurement
and forward pass.
"""

from __future__ import annotations

import importlib

from backends.torch.model import BUILDERS, NAME, build, measure, run
from backends.torch.weights import get_weights, layer_outputs, load_weights_file, set_weights
from translator.ops import FAMILIES

for _family in FAMILIES:
    importlib.import_module(f"backends.torch.{_family}")
# Importers of Hugging Face's attention forms, beside the attention family (budget: one module
# of about 300 lines).
importlib.import_module("backends.torch.attention_reading")

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
