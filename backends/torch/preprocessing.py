"""Preprocessing layers: Rescaling and Normalization. PyTorch has no module for either, so
they are the standalone ``ScaleOffset`` (``backends/torch/standalone/layers.py``) and
``Standardize`` or ``ConstantStandardize`` (``backends/torch/standalone/normalization.py``),
which ``export`` copies into ``model.py``."""

from __future__ import annotations

from typing import Any

from backends.torch.importing import MODULES, ModuleCall, Reading, Refused, op_name
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


# Importing: model.py's ``Standardize`` (mean and variance buffers viewed against the input)
# → Normalization over the axes they vary along.


@MODULES.register("Standardize")
def read_standardize(r: Reading, call: ModuleCall) -> None:
    """``Standardize(shape, broadcast, invert)``: ``(x - mean) / std`` or, inverted,
    ``mean + x * std`` → Normalization(axis, invert), its statistics the buffers."""
    broadcast = Reading.shape(call.op("view", "reshape", "_unsafe_view"))
    axes = [i for i, n in enumerate(broadcast) if i and n != 1]
    invert = any(op_name(n) == "mul" for n in call.nodes)
    first = call.op("mul") if invert else call.op("sub")
    x = next((a for a in first.args if hasattr(a, "op") and a in r.refs), None)
    if x is None:
        raise Refused("it standardizes no layer's output")
    layer: dict[str, Any] = {"type": "Normalization", "invert": invert}
    layer["axis"] = axes[0] if len(axes) == 1 else (axes or None)
    r.add(call, layer, [x], call.nodes[-1])
