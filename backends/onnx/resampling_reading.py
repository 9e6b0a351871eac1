"""Reading croppings and 1-D upsamplings (``PATTERNS``, at their first node in file order):
a Slice by constant amounts (Cropping1D/2D), and the translator's nearest repeat of one
axis, ``Reshape(Expand(Unsqueeze(x)), Shape(x) · factors)`` (UpSampling1D).

Keras's 1-D layers work on the steps, axis 1 of (batch, steps, features); an operation on
axis 2 of a channels-first sequence (after a Conv1D in a channels-first spec) is the layer
between two Permutes swapping the axes, as the spec must write it.
"""

from __future__ import annotations

from typing import Any, NamedTuple

import onnx

from backends.onnx.importing import (
    PATTERNS,
    Reading,
    Recogniser,
    Refused,
    View,
    attributes,
    spatial_axes_of,
)
from backends.onnx.reshape import RESHAPE_OP

STEPS_SWAPPED = [2, 1]  # Permute(dims): (channels, steps) ↔ (steps, channels)
# A Slice's end at or past this is "to the end" (exporters write INT64_MAX or INT32_MAX).
TO_THE_END = 2**31 - 1


def _read_only_by(r: Reading, tensor: str, readers: list[onnx.NodeProto]) -> bool:
    found = r.source.readers.get(tensor, [])
    return tensor not in r.source.outputs and {id(n) for n in found} <= {id(n) for n in readers}


def on_steps(
    r: Reading,
    node: onnx.NodeProto,
    layer: dict[str, Any],
    x: View,
    axis: int,
    out: str,
    readers: list[onnx.NodeProto],
) -> None:
    """``layer`` (a 1-D layer of the steps) read from ``node`` (the input read by ``readers``
    only, its nodes) working on ONNX ``axis`` of ``x``, making ``out``: the layer itself on
    spec axis 1, between Permutes on axis 2 of a sequence (one Permute back just made and a
    Permute cancel)."""
    spec_axis = x.axes[axis]
    if None in x.axes or spec_axis not in (1, 2) or (spec_axis == 2 and len(x.axes) != 3):
        raise Refused(f"it works on spec axis {spec_axis} of {x.axes}, not on the steps")
    if spec_axis == 1:
        r.add(node, layer, [x], {out: x.axes})
        return
    swapped = tuple(3 - a if a in (1, 2) else a for a in x.axes)  # as (steps, channels)
    permute = {"type": "Permute", "dims": STEPS_SWAPPED}
    last = r.layers[-1] if r.layers else {}
    if last == {"name": x.ref, **permute} and _read_only_by(r, node.input[0], readers):
        r.weights.pop(r.layers.pop()["name"])  # a Permute back, read only here: they cancel
        turned = str(r.previous())
    else:
        turned = r.add(node, permute, [x], {f"{out}/steps_first": swapped}, suffix="_steps_first")
    done = r.add(node, layer, [View(turned, swapped)], {f"{out}/steps_last": swapped})
    r.add(node, permute, [View(done, swapped)], {out: x.axes}, suffix="_channels_first")


def _ints(r: Reading, tensor: str) -> list[int] | None:
    value = r.const(tensor) if tensor else None
    return None if value is None else [int(v) for v in value.reshape(-1)]


def _croppings(r: Reading, node: onnx.NodeProto) -> dict[int, list[int]] | None:
    """ONNX axis → (start, end) cut by the Slice ``node`` (constant, forward), else None."""
    starts, ends = _ints(r, node.input[1]), _ints(r, node.input[2])
    given = [*node.input, "", ""]
    axes, steps = _ints(r, given[3]), _ints(r, given[4])
    shape = r.shape(node.input[0])
    if starts is None or ends is None or shape is None or r.const(node.input[0]) is not None:
        return None
    axes = list(range(len(starts))) if axes is None and not given[3] else axes
    if axes is None or (given[4] and steps != [1] * len(starts)):
        return None
    cuts: dict[int, list[int]] = {}
    for axis, start, end in zip(axes, starts, ends, strict=True):
        size = shape[axis % len(shape)]
        after = -end if end < 0 else 0 if end >= TO_THE_END else None
        if after is None and size is not None and end <= size:
            after = size - end
        if start < 0 or after is None:
            return None
        if start or after:
            cuts[axis % len(shape)] = [start, after]
    return cuts


@PATTERNS.register("Cropping")
def find_croppings(r: Reading) -> dict[int, Recogniser]:
    """Every Slice of data by constant amounts, forward → a Cropping layer."""
    found: dict[int, Recogniser] = {}
    for node in r.source.model.graph.node:
        cuts = _croppings(r, node) if node.op_type == "Slice" and len(node.input) > 2 else None
        if cuts:
            found[id(node)] = _cropping(cuts)
    return found


def _cropping(cuts: dict[int, list[int]]) -> Recogniser:
    def recognise(r: Reading, node: onnx.NodeProto) -> None:
        """Cropping1D on the steps; Cropping2D on the spatial axes of images."""
        x = r.view(node.input[0])
        if len(x.axes) == 3 and len(cuts) == 1:
            ((axis, pair),) = cuts.items()
            layer = {"type": "Cropping1D", "cropping": [pair]}
            on_steps(r, node, layer, x, axis, node.output[0], [node])
            return
        by_spec = {x.axes[axis]: pair for axis, pair in cuts.items()}
        spatial = spatial_axes_of(r.data_format, len(x.axes))
        if len(x.axes) != 4 or not set(by_spec) <= set(spatial):
            raise Refused(f"it cuts spec axes {list(by_spec)}, not the spatial ones")
        cropping = [by_spec.get(a, [0, 0]) for a in spatial]
        r.add(node, {"type": "Cropping2D", "cropping": cropping}, [x], {node.output[0]: x.axes})

    return recognise


class Repeat(NamedTuple):
    """A nearest repeat of one axis: its nodes (Unsqueeze, Expand, Reshape, and the Shape
    of its input), the ONNX axis and the factor."""

    grown: onnx.NodeProto
    wide: onnx.NodeProto
    merged: onnx.NodeProto
    measured: onnx.NodeProto
    axis: int
    factor: int


def _repeat(r: Reading, grown: onnx.NodeProto) -> Repeat | None:
    """The nearest repeat of one axis starting at the Unsqueeze ``grown``
    (``reshape.repeat``), else None."""
    new = _ints(r, grown.input[1]) if len(grown.input) > 1 else attributes(grown).get("axes")
    wide = r.reader(grown.output[0])
    merged = r.reader(wide.output[0]) if wide is not None and wide.op_type == "Expand" else None
    if new is None or len(new) != 1 or wide is None or merged is None:
        return None
    axis, repeats = new[0] - 1, _ints(r, wide.input[1])
    scale = r.source.producers.get(merged.input[1]) if merged.op_type == RESHAPE_OP else None
    measured = r.source.producers.get(scale.input[0]) if scale is not None else None
    if repeats is None or axis < 1 or scale is None or measured is None:
        return None
    factor = repeats[new[0]]
    ones = [n for i, n in enumerate(repeats) if i != new[0]]
    factors = _ints(r, scale.input[1]) if scale.op_type == "Mul" else None
    expected = [factor if i == axis else 1 for i in range(len(repeats) - 1)]
    shaped = measured.op_type == "Shape" and measured.input[0] == grown.input[0]
    if set(ones) != {1} or factors != expected or not shaped or attributes(measured):
        return None
    return Repeat(grown, wide, merged, measured, axis, factor) if factor >= 1 else None


@PATTERNS.register("UpSamplingRepeat")
def find_upsampling(r: Reading) -> dict[int, Recogniser]:
    """Every nearest repeat of one axis (see ``_repeat``) → UpSampling1D on the steps."""
    found: dict[int, Recogniser] = {}
    for node in r.source.model.graph.node:
        match = _repeat(r, node) if node.op_type == "Unsqueeze" else None
        if match is not None:
            found[id(node)] = _upsampling(match)
    return found


def _upsampling(match: Repeat) -> Recogniser:
    def recognise(r: Reading, node: onnx.NodeProto) -> None:
        x = r.view(match.grown.input[0])
        layer = {"type": "UpSampling1D", "size": match.factor}
        readers = [match.grown, match.measured]
        on_steps(r, node, layer, x, match.axis, match.merged.output[0], readers)
        r.claim(match.wide)
        r.claim(match.merged)

    return recognise
