"""Reshaping layers: Flatten, Reshape, Permute, ZeroPadding1D/2D/3D, Cropping1D/2D,
UpSampling1D/2D and RepeatVector.

Tensors between layers are in the spec's layout, so Flatten and Reshape see Keras's
row-major element order without any transpose.
"""

from __future__ import annotations

import math

import numpy as np
import onnx

from backends.onnx.conv import spatial_axes
from backends.onnx.importing import (
    RECOGNISERS,
    Axes,
    Reading,
    Refused,
    View,
    attributes,
    spatial_axes_of,
)
from backends.onnx.model import BUILDERS, Layer
from translator.ops.reshape import CROPPINGS, PADDINGS

INT64_MAX = np.iinfo(np.int64).max
RESHAPE_OP = "Reshape"  # the ONNX operator, for the recognisers of other families


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
    return [repeat(layer, inputs[0], _axes(layer, 1), [layer.args["size"]])]


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


# Importing: Transpose, Squeeze and Unsqueeze change only how an ONNX tensor shows the spec
# tensor (its view); Flatten and Reshape of a tensor in the spec's own order become Flatten
# and Reshape layers; a Reshape that only drops or adds axes of size 1 changes the view.


def _axes_of(r: Reading, node: onnx.NodeProto) -> list[int]:
    """Squeeze/Unsqueeze axes: an attribute before opset 13, an input after."""
    given = attributes(node).get("axes")
    if given is None and len(node.input) > 1:
        value = r.const(node.input[1])
        if value is None:
            raise Refused("its axes are computed at run time")
        given = value.tolist()
    if given is None:
        raise Refused("it squeezes every axis of size 1")
    return [int(a) for a in given]


@RECOGNISERS.register("Transpose")
def read_transpose(r: Reading, node: onnx.NodeProto) -> None:
    """Transpose(perm): the same spec tensor, its axes permuted (no layer)."""
    x = r.view(node.input[0])
    perm = list(attributes(node).get("perm", range(len(x.axes))[::-1]))
    if len(perm) >= 4:
        r.transposed += 1  # an image in the other layout: a transposed channels-last model
    r.views[node.output[0]] = x.permuted(perm)


@RECOGNISERS.register("Squeeze")
def read_squeeze(r: Reading, node: onnx.NodeProto) -> None:
    """Squeeze(axes) of inserted size-1 axes: the same spec tensor (no layer)."""
    x = r.view(node.input[0])
    drop = {a % len(x.axes) for a in _axes_of(r, node)}
    if any(x.axes[a] is not None for a in drop):
        raise Refused("it drops an axis of the spec tensor")
    r.views[node.output[0]] = View(x.ref, tuple(a for i, a in enumerate(x.axes) if i not in drop))


@RECOGNISERS.register("Unsqueeze")
def read_unsqueeze(r: Reading, node: onnx.NodeProto) -> None:
    """Unsqueeze(axes): the same spec tensor with size-1 axes inserted (no layer)."""
    x = r.view(node.input[0])
    axes = list(x.axes)
    rank = len(axes) + len(_axes_of(r, node))
    for a in sorted(a % rank for a in _axes_of(r, node)):
        axes.insert(a, None)
    r.views[node.output[0]] = View(x.ref, tuple(axes))


def _flatten_layer(r: Reading, node: onnx.NodeProto, x: View) -> None:
    if not x.plain:
        raise Refused(f"it flattens ONNX's order of spec axes {x.axes}, not the spec's")
    r.add(node, {"type": "Flatten"}, [x], {node.output[0]: (0, 1)})


@RECOGNISERS.register("Flatten")
def read_flatten(r: Reading, node: onnx.NodeProto) -> None:
    """Flatten(axis=1) → Flatten, of a tensor in the spec's own order."""
    x = r.view(node.input[0])
    if attributes(node).get("axis", 1) != 1:
        raise Refused("it flattens into the batch axis")
    if len(x.axes) == 2:
        r.views[node.output[0]] = x
        return
    _flatten_layer(r, node, x)


def _size(dims: tuple[int | None, ...]) -> int | None:
    """The elements of ``dims`` per example; None when two are unknown."""
    known = math.prod(n for n in dims if n is not None)
    return known if sum(n is None for n in dims) < 2 else None


Dims = tuple[int | None, ...]  # an ONNX tensor's inferred shape, batch first


def _steps_merged(x: View, given: Dims, out: Dims) -> Axes | None:
    """The axes of a Reshape that merges the leading axes into the batch for a per-step
    layer, (batch, steps, features) → (batch·steps, features), shown as ``(0, last)``, or
    undoes it; as the translator exports TimeDistributed. None for any other Reshape."""
    last = len(given) - 1
    if x.plain and last >= 2 and len(out) == 2 and given[-1] is not None and out[1] == given[-1]:
        return (0, last)
    merged = x.axes[1] if len(x.axes) == 2 and x.axes[0] == 0 else None
    if merged is not None and merged > 1 and len(out) == merged + 1:
        return tuple(range(len(out))) if out[-1] == given[-1] else None
    return None


@RECOGNISERS.register("Reshape")
def read_reshape(r: Reading, node: onnx.NodeProto) -> None:
    """Reshape to the output shape shape inference found (batch axis kept)."""
    x, given, out = r.view(node.input[0]), r.shape(node.input[0]), r.shape(node.output[0])
    if given is None or out is None:
        raise Refused("its output shape is not known before run time")
    merged = _steps_merged(x, given, out)
    if merged is not None:
        r.views[node.output[0]] = View(x.ref, merged)
        return
    from backends.onnx import wrappers  # which imports this module (through recurrent)

    if wrappers.time_folding(r, node):
        return
    real = [(a, n) for a, n in zip(x.axes, given, strict=True) if a is not None]
    kept = [n for n in out if n != 1] == [n for _, n in real if n != 1]
    ones = [a for a, n in real if n == 1]  # the spec tensor's own axes of size 1, moved
    if kept and sum(n == 1 for n in out) >= len(ones):  # (tf2onnx: one channel NHWC → NCHW)
        spec, single = iter(a for a, n in real if n != 1), iter(ones)
        axes = tuple(next(single, None) if n == 1 else next(spec) for n in out)
        r.views[node.output[0]] = View(x.ref, axes)
        return
    known = [n for n in given[1:] if n is not None]
    if x.axes[0] != 0 or len(known) < len(given) - 1 or math.prod(known) != _size(out[1:]):
        raise Refused("it reshapes across the batch axis (or axes of unknown size)")
    if len(out) == 2:
        _flatten_layer(r, node, x)
        return
    if not x.plain or sum(n is None for n in out[1:]) > 1:
        raise Refused(f"it reshapes ONNX's order of spec axes {x.axes}, not the spec's")
    target = [-1 if n is None else n for n in out[1:]]  # one unknown at most: _size said so
    layer = {"type": "Reshape", "target_shape": target}
    r.add(node, layer, [x], {node.output[0]: tuple(range(len(out)))})


@RECOGNISERS.register("Pad")
def read_pad(r: Reading, node: onnx.NodeProto) -> None:
    """Pad with zeros of the spatial axes only → ZeroPadding1D/2D/3D."""
    x = r.view(node.input[0])
    pads, value = r.const(node.input[1]), r.const(node.input[2]) if len(node.input) > 2 else None
    mode = attributes(node).get("mode", "constant")
    if pads is None or mode != "constant" or (value is not None and value.any()):
        raise Refused("it pads by mode or value other than zeros, or by run-time amounts")
    if len(node.input) > 3 and node.input[3]:
        raise Refused("it pads given axes (opset 18 axes input)")
    rank = len(x.axes)
    by_axis = {x.axes[i]: [int(pads[i]), int(pads[i + rank])] for i in range(rank)}
    spatial = spatial_axes_of(r.data_format, rank)
    if any(any(p) for a, p in by_axis.items() if a not in spatial):
        raise Refused(f"it pads axes other than the spatial ones {spatial} of the spec")
    padding = [by_axis[a] for a in spatial]
    layer = {"type": f"ZeroPadding{len(spatial)}D", "padding": padding}
    r.add(node, layer, [x], {node.output[0]: x.axes})


def reshapes_to(r: Reading, node: onnx.NodeProto, rank: int) -> bool:
    """Whether ``node`` is a Reshape whose output has ``rank`` axes (batch included)."""
    shape = r.shape(node.output[0])
    return node.op_type == "Reshape" and shape is not None and len(shape) == rank


@RECOGNISERS.register("Expand")
def read_expand(r: Reading, node: onnx.NodeProto) -> None:
    """Expand of a vector with an axis of size 1 inserted at 1 (Unsqueeze), to n along it
    → RepeatVector(n)."""
    x = r.view(node.input[0])
    shape = r.const(node.input[1])
    if x.axes != (0, None, 1) or shape is None or len(shape) != 3:
        raise Refused("an Expand other than of vectors along a new axis 1 (RepeatVector)")
    n = int(shape[1])
    if int(shape[0]) != 1 or int(shape[2]) != 1 or n < 1:
        raise Refused(f"an Expand to {shape.tolist()}; accepted: [1, n, 1] (RepeatVector)")
    r.add(node, {"type": "RepeatVector", "n": n}, [x], {node.output[0]: (0, 1, 2)})


# ONNX operators reading a tensor in the spec's row-major order (a view permuting its axes
# needs a Permute first, ``made_plain``).
SPEC_ORDER_OPS = ("Flatten",)


def made_plain(r: Reading, tensor: str) -> View:
    """The view of ``tensor``, and where it shows the spec tensor's axes permuted (the batch
    first, none inserted), a Permute layer first putting them in ONNX's order (a Dense on
    another axis than the last, a merge of tensors laid out differently), named after the
    Transpose that moved them."""
    x = r.view(tensor)
    if (
        x.plain
        or x.axes[0] != 0
        or sorted(a for a in x.axes if a is not None) != list(range(len(x.axes)))
    ):
        return x
    out, mover = f"{tensor}/permuted", r.source.producers[tensor]
    plain = tuple(range(len(x.axes)))
    r.add(mover, {"type": "Permute", "dims": list(x.axes[1:])}, [x], {out: plain})
    return r.views[out]
