"""Layer families: each module registers, per layer type, its schema entry, shape rule and
weight rule. The imports below are the explicit list of families (no module scanning)."""

from __future__ import annotations

from translator.ops import (  # noqa: F401  (imported for their registrations)
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
    "recurrent",
    "reshape",
    "wrappers",
)
