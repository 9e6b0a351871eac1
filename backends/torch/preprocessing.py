"""Preprocessing layers: Rescaling and Normalization. PyTorch has no module for either, so
they are the standalone ``ScaleOffset`` (``backends/torch/standalone/layers.py``) and
``Standardize`` or ``ConstantStandardize`` (``backends/torch/standalone/normalization.py``),
which ``export`` copies into ``model.py``."""

from __future__ import annotations

from backends.torch.model import describes
from backends.torch.standalone.assemble import Call, call
from translator.ir import Node
from translator.ops.preprocessing import (
    EPSILON,
    broadcast_shape,
    constant,
    constant_shape,
    constants,
    statistics_shape,
)


@describes("Rescaling")
def describe_rescaling(node: Node) -> Call:
    """Rescaling(scale, offset=0.0) → ``ScaleOffset``."""
    return call("ScaleOffset", node.args["scale"], node.args["offset"])


@describes("Normalization")
def describe_normalization(node: Node) -> Call:
    """Normalization(axis=-1, invert=False, mean=None, variance=None) → ``Standardize``, mean
    and variance buffers; with mean and variance given, ``ConstantStandardize``."""
    options = {"invert": node.args["invert"], "epsilon": EPSILON}
    if constant(node):
        mean, variance = constants(node)
        return call("ConstantStandardize", mean, variance, list(constant_shape(node)), **options)
    shape, broadcast = list(statistics_shape(node)), list(broadcast_shape(node))
    return call("Standardize", shape, broadcast, **options)
