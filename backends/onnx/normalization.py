"""Normalization: Batch-, Layer-, Group-, RMS- and UnitNormalization.

ONNX's BatchNormalization and GroupNormalization normalize axis 1 and its LayerNormalization
the trailing axes; a spec axis elsewhere is moved there by a Transpose and moved back
afterwards. A scale or offset the spec turns off is fed as constant ones or zeros
(``/const/``, not weights). RMS and unit normalization are composed from reductions, as
Keras writes them.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import onnx

from backends.onnx.importing import RECOGNISERS, Reading, Refused, View, attributes
from backends.onnx.model import BUILDERS, Layer
from backends.onnx.reshape import made_plain
from translator.ops.normalization import channel_axis, normalized_axes

# The layer types, for the modules reading them written out (``normalization_reading``).
BATCH_NORM, LAYER_NORM = "BatchNormalization", "LayerNormalization"


def _inverse(perm: list[int]) -> list[int]:
    return sorted(range(len(perm)), key=perm.__getitem__)


def _transpose(layer: Layer, x: str, perm: list[int]) -> str:
    if perm == sorted(perm):
        return x
    return layer.op("Transpose", [x], perm=perm)


@BUILDERS.register("BatchNormalization")
def build_batch_norm(layer: Layer, inputs: list[str]) -> list[str]:
    """BatchNormalization(axis=-1, momentum=0.99, epsilon=1e-3, center=True, scale=True), on
    the moving statistics (inference). ONNX's momentum has Keras's convention."""
    channels, axis = channel_axis(layer.node)
    rank = len(layer.node.input_shape) + 1
    perm = [0, axis, *(i for i in range(1, rank) if i != axis)]
    scale = layer.weight("scale") if layer.args["scale"] else layer.const("scale", [1.0] * channels)
    offset = layer.weight("B") if layer.args["center"] else layer.const("B", [0.0] * channels)
    stats = [layer.weight("input_mean"), layer.weight("input_var")]
    y = layer.op(
        "BatchNormalization",
        [_transpose(layer, inputs[0], perm), scale, offset, *stats],
        epsilon=layer.args["epsilon"],
        momentum=layer.args["momentum"],
        training_mode=0,
    )
    return [_transpose(layer, y, _inverse(perm))]


@BUILDERS.register("LayerNormalization")
def build_layer_norm(layer: Layer, inputs: list[str]) -> list[str]:
    """LayerNormalization(axis=-1, epsilon=1e-3, center=True, scale=True) over any axes."""
    axes = [i + 1 for i in normalized_axes(layer.node)]
    shape = [layer.node.input_shape[i - 1] for i in axes]
    rank = len(layer.node.input_shape) + 1
    perm = [0, *(i for i in range(1, rank) if i not in axes), *axes]
    # ONNX's LayerNormalization always takes a Scale; ones stand in for scale: false.
    scale = layer.weight("Scale") if layer.args["scale"] else layer.const("Scale", np.ones(shape))
    offset = [layer.weight("B")] if layer.args["center"] else []
    y = layer.op(
        "LayerNormalization",
        [_transpose(layer, inputs[0], perm), scale, *offset],
        axis=-len(axes),
        epsilon=layer.args["epsilon"],
    )
    return [_transpose(layer, y, _inverse(perm))]


@BUILDERS.register("GroupNormalization")
def build_group_norm(layer: Layer, inputs: list[str]) -> list[str]:
    """GroupNormalization(groups=32, axis=-1, epsilon=1e-3, center=True, scale=True).

    Keras splits the channels into ``groups`` runs of consecutive channels and normalizes each
    run over it and every non-batch axis; opset 21's GroupNormalization does the same on
    (batch, channels, ...) with per-channel scale and offset. A (batch, channels) input gets a
    trailing axis of one, since the operator wants at least one spatial axis."""
    (axis,) = normalized_axes(layer.node)
    (channels,) = layer.node.known((layer.node.input_shape[axis],))
    rank = len(layer.node.input_shape) + 1
    perm = [0, axis + 1, *(i for i in range(1, rank) if i != axis + 1)]
    x = _transpose(layer, inputs[0], perm)
    if rank == 2:
        x = layer.op("Unsqueeze", [x, layer.ints("axis", [2])])
    scale = layer.weight("scale") if layer.args["scale"] else layer.const("scale", [1.0] * channels)
    offset = layer.weight("B") if layer.args["center"] else layer.const("B", [0.0] * channels)
    y = layer.op(
        "GroupNormalization",
        [x, scale, offset],
        num_groups=layer.args["groups"],
        epsilon=layer.args["epsilon"],
    )
    if rank == 2:
        y = layer.op("Squeeze", [y, layer.ints("axis", [2])])
    return [_transpose(layer, y, _inverse(perm))]


def _along(layer: Layer, vector: str, axes: list[int]) -> str:
    """``vector`` (the sizes of ``axes``) shaped to broadcast along those full-tensor axes."""
    rank = len(layer.node.input_shape) + 1
    if axes == list(range(rank - len(axes), rank)):
        return vector  # trailing axes broadcast as they are
    shape = [layer.node.input_shape[i - 1] if i in axes else 1 for i in range(rank)]
    return layer.op("Reshape", [vector, layer.ints("shape", shape)])


@BUILDERS.register("RMSNormalization")
def build_rms_norm(layer: Layer, inputs: list[str]) -> list[str]:
    """RMSNormalization(axis=-1, epsilon=1e-6), as keras.ops.rms_normalization:
    ``x * rsqrt(mean(x², axes) + epsilon) * scale``. Opset 21 has no RMS operator."""
    (x,) = inputs
    axes = [i + 1 for i in normalized_axes(layer.node)]
    mean_square = layer.op(
        "ReduceMean", [layer.op("Mul", [x, x]), layer.ints("axes", axes)], keepdims=1
    )
    shifted = layer.op("Add", [mean_square, layer.const("epsilon", layer.args["epsilon"])])
    y = layer.op("Mul", [x, layer.op("Reciprocal", [layer.op("Sqrt", [shifted])])])
    return [layer.op("Mul", [y, _along(layer, layer.weight("scale"), axes)])]


@BUILDERS.register("LayerScale")
def build_layer_scale(layer: Layer, inputs: list[str]) -> list[str]:
    """LayerScale(init_values, projection_dim): ``x * gamma``, broadcast over the last axis."""
    return [layer.op("Mul", [inputs[0], layer.weight("gamma")])]


@BUILDERS.register("UnitNormalization")
def build_unit_norm(layer: Layer, inputs: list[str]) -> list[str]:
    """UnitNormalization(axis=-1), as keras.ops.normalize(order=2, epsilon=1e-12):
    ``x * min(rsqrt(sum(x², axes)), 1 / epsilon)``; an all-zero slice stays zero."""
    (x,) = inputs
    axes = layer.ints("axes", [i + 1 for i in normalized_axes(layer.node)])
    square_sum = layer.op("ReduceSumSquare", [x, axes], keepdims=1)
    inverse = layer.op("Reciprocal", [layer.op("Sqrt", [square_sum])])
    return [layer.op("Mul", [x, layer.op("Min", [inverse, layer.const("cap", 1e12)])])]


# Importing: BatchNormalization (its channel axis is ONNX's axis 1, which the view names in
# the spec) and LayerNormalization (over the trailing axes from ``axis``).


def epsilon(value: float) -> float:
    """A float32 attribute as the number a person wrote: 7 significant digits (BERT's
    1e-12 stays 1e-12, where rounding to decimal places would make it 0)."""
    return float(f"{np.float32(value):.7g}")


def spec_axis(axis: int | None, x: View) -> int:
    """A spec axis as the spec writes it: -1 for the last."""
    if axis is None or axis == 0:
        raise Refused("it normalizes an axis the spec does not have")
    return -1 if axis == max(a for a in x.axes if a is not None) else axis


@RECOGNISERS.register("BatchNormalization")
def read_batch_norm(r: Reading, node: onnx.NodeProto) -> None:
    """BatchNormalization(x, scale, B, mean, var) at inference → BatchNormalization."""
    a = attributes(node)
    if a.get("training_mode", 0) or (len(node.output) > 1 and any(node.output[1:])):
        raise Refused("it runs in training mode")
    x = r.view(node.input[0])
    scale, bias, mean, var = (r.weight(t) for t in node.input[1:5])
    layer = {
        "type": "BatchNormalization",
        "axis": spec_axis(x.axes[1], x),
        "epsilon": epsilon(a.get("epsilon", 1e-5)),
        "momentum": round(float(np.float32(a.get("momentum", 0.9))), 7),
    }
    weights = {
        "scale": lambda: scale,
        "B": lambda: bias,
        "input_mean": lambda: mean,
        "input_var": lambda: var,
    }
    r.add(node, layer, [x], {node.output[0]: x.axes}, weights)


@RECOGNISERS.register("LayerNormalization")
def read_layer_norm(r: Reading, node: onnx.NodeProto) -> None:
    """LayerNormalization(x, Scale, B) over axes ``axis``.. → LayerNormalization."""
    a = attributes(node)
    x = r.view(node.input[0])
    rank = len(x.axes)
    first = a.get("axis", -1) % rank
    if x.axes[first:] != tuple(range(first, rank)):
        x = made_plain(r, node.input[0])  # the spec tensor permuted (Whisper's frames): a Permute
    normalized = x.axes[first:]
    if normalized != tuple(range(first, rank)):
        raise Refused(f"it normalizes spec axes {normalized}, not the trailing ones")
    axis: Any = -1 if len(normalized) == 1 else list(normalized)
    weights = {"Scale": lambda: r.weight(node.input[1])}
    if len(node.input) > 2 and node.input[2]:
        weights["B"] = lambda: r.weight(node.input[2])
    layer = {
        "type": "LayerNormalization",
        "axis": axis,
        "epsilon": epsilon(a.get("epsilon", 1e-5)),
        "center": "B" in weights,
    }
    r.add(node, layer, [x], {node.output[0]: x.axes}, weights)
