"""Reshaping layers: Flatten, Reshape, Permute, ZeroPadding1D/2D/3D, Cropping1D/2D,
UpSampling1D/2D and RepeatVector.

Tensors between layers are in the spec's layout, so Flatten and Reshape see Keras's
row-major element order without any transpose.
"""

from __future__ import annotations

import numpy as np

from backends.onnx.conv import spatial_axes
from backends.onnx.model import BUILDERS, Layer
from translator.ops.reshape import CROPPINGS, PADDINGS

INT64_MAX = np.iinfo(np.int64).max


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


def _axes(layer: Layer, rank: int) -> list[int]:
    """The full-tensor spatial axes; layers without data_format are (batch, steps, features)."""
    return spatial_axes(layer, rank) if "data_format" in layer.args else [1]


@BUILDERS.register("ZeroPadding2D", *PADDINGS)
def build_zero_padding(layer: Layer, inputs: list[str]) -> list[str]:
    """ZeroPadding1D/2D/3D(padding=1, data_format): Pad works on any axes, so no transpose."""
    padding = layer.args["padding"]
    rank = len(layer.node.input_shape)
    before, after = [0] * (rank + 1), [0] * (rank + 1)
    for axis, (start, end) in zip(_axes(layer, len(padding)), padding, strict=True):
        before[axis], after[axis] = start, end
    pads = layer.ints("pads", before + after)
    return [layer.op("Pad", [inputs[0], pads], mode="constant")]


@BUILDERS.register(*CROPPINGS)
def build_cropping(layer: Layer, inputs: list[str]) -> list[str]:
    """Cropping1D(cropping=1), Cropping2D(cropping=0, data_format): a Slice whose ends count
    from the end, so free sizes work."""
    cropping = layer.args["cropping"]
    starts = layer.ints("starts", [start for start, _ in cropping])
    ends = layer.ints("ends", [-end if end else INT64_MAX for _, end in cropping])
    axes = layer.ints("axes", _axes(layer, len(cropping)))
    return [layer.op("Slice", [inputs[0], starts, ends, axes])]


def repeat(layer: Layer, x: str, axes: list[int], factors: list[int]) -> str:
    """``x`` with each element repeated ``factors[i]`` times along ``axes[i]`` (sorted), as
    ``ops.repeat`` does: a new axis after each, broadcast to the factor, merged back."""
    rank = len(layer.node.input_shape) + 1
    new = [axis + i + 1 for i, axis in enumerate(axes)]
    grown = layer.op("Unsqueeze", [x, layer.ints("new_axes", new)])
    wide = [1] * (rank + len(axes))
    for axis, factor in zip(new, factors, strict=True):
        wide[axis] = factor
    grown = layer.op("Expand", [grown, layer.ints("repeats", wide)])
    scale = [1] * rank
    for axis, factor in zip(axes, factors, strict=True):
        scale[axis] = factor
    shape = layer.op("Mul", [layer.op("Shape", [x]), layer.ints("factors", scale)])
    return layer.op("Reshape", [grown, shape])


@BUILDERS.register("UpSampling1D")
def build_upsampling1d(layer: Layer, inputs: list[str]) -> list[str]:
    """UpSampling1D(size=2): each time step repeated ``size`` times."""
    return [repeat(layer, inputs[0], [1], [layer.args["size"]])]


@BUILDERS.register("UpSampling2D")
def build_upsampling2d(layer: Layer, inputs: list[str]) -> list[str]:
    """UpSampling2D(size=2, data_format, interpolation="nearest"). Nearest repeats rows and
    columns (Keras's ``ops.repeat``); bilinear is ``tf.image.resize``: half-pixel centers, no
    antialiasing when upsampling, which is ONNX Resize's linear half_pixel mode."""
    axes, size = spatial_axes(layer, 2), list(layer.args["size"])
    if layer.args["interpolation"] == "nearest":
        return [repeat(layer, inputs[0], axes, size)]
    scales = layer.const("scales", [float(f) for f in size])
    y = layer.op(
        "Resize",
        [inputs[0], "", scales],
        axes=axes,
        mode="linear",
        coordinate_transformation_mode="half_pixel",
    )
    return [y]


@BUILDERS.register("RepeatVector")
def build_repeat_vector(layer: Layer, inputs: list[str]) -> list[str]:
    """RepeatVector(n): (batch, features) → (batch, n, features)."""
    row = layer.op("Unsqueeze", [inputs[0], layer.ints("axis", [1])])
    return [layer.op("Expand", [row, layer.ints("shape", [1, layer.args["n"], 1])])]
