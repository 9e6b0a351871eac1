"""Normalization: BatchNormalization and LayerNormalization.

ONNX's BatchNormalization normalizes axis 1 and its LayerNormalization the trailing axes; a
spec axis elsewhere is moved there by a Transpose and moved back afterwards. A scale or
offset the spec turns off is fed as constant ones or zeros (``/const/``, not weights).
"""

from __future__ import annotations

import numpy as np

from backends.onnx.model import BUILDERS, Layer
from translator.ops.normalization import normalized_axes


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
    (axis,) = normalized_axes(layer.node)
    channels = layer.node.input_shape[axis]
    rank = len(layer.node.input_shape) + 1
    others = [i for i in range(1, rank) if i != axis + 1]
    perm = [0, axis + 1, *others]
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
