"""Reshaping layers: Flatten, Reshape, Permute, ZeroPadding2D.

Tensors between layers are in the spec's layout, so Flatten and Reshape see Keras's
row-major element order without any transpose.
"""

from __future__ import annotations

from backends.onnx.conv import spatial_axes
from backends.onnx.model import BUILDERS, Layer


@BUILDERS.register("Flatten")
def build_flatten(layer: Layer, inputs: list[str]) -> list[str]:
    """Flatten(): (batch, ...) → (batch, -1)."""
    return [layer.op("Flatten", inputs, axis=1)]


@BUILDERS.register("Reshape")
def build_reshape(layer: Layer, inputs: list[str]) -> list[str]:
    """Reshape(target_shape): the IR's inferred shape; 0 keeps the batch size."""
    shape = layer.ints("shape", [0, *layer.node.output_shape])
    return [layer.op("Reshape", [inputs[0], shape])]


@BUILDERS.register("Permute")
def build_permute(layer: Layer, inputs: list[str]) -> list[str]:
    """Permute(dims): 1-based over the non-batch axes, so the batch axis stays first."""
    return [layer.op("Transpose", inputs, perm=[0, *layer.args["dims"]])]


@BUILDERS.register("ZeroPadding2D")
def build_zero_padding(layer: Layer, inputs: list[str]) -> list[str]:
    """ZeroPadding2D(padding=1, data_format): Pad works on any axes, so no transpose."""
    rank = len(layer.node.input_shape)
    before, after = [0] * (rank + 1), [0] * (rank + 1)
    for axis, (start, end) in zip(spatial_axes(layer, 2), layer.args["padding"], strict=True):
        before[axis], after[axis] = start, end
    pads = layer.ints("pads", before + after)
    return [layer.op("Pad", [inputs[0], pads], mode="constant")]
