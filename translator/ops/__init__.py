"""Layer families. Each module holds, per layer type, everything the translator knows of it
without a framework: its schema entry (with its aliases and layout facts), shape rule, weight
rule, weight map to the canonical layout, ``explain`` formula and the hyperparameter
conversions ``port`` names. Each backend has one module of the same name per family.

``FAMILIES`` is the one list of families (no module scanning): the backends import their
family modules from it. Importing this package fills every registry and checks that each
registered type has every required piece.
"""

from __future__ import annotations

import importlib

from translator.ir.registries import check_complete
from translator.spec.schema import SCHEMAS
from translator.weights.maps import MAPS

FAMILIES = (
    "activation",
    "attention",
    "conv",
    "conv_transpose",
    "core",
    "depthwise",
    "merge",
    "normalization",
    "pooling",
    "position_bias",
    "preprocessing",
    "recurrent",
    "reshape",
    "wrappers",
)

for _family in FAMILIES:
    importlib.import_module(f"translator.ops.{_family}")

check_complete(list(SCHEMAS), MAPS)
