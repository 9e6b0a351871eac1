"""Reading the normalizations tf2onnx writes out operator by operator, claimed as one spec
layer each (``PATTERNS``, at their first node in file order).

* A Keras BatchNormalization at inference: tf2onnx folds its statistics into a per-channel
  ``Mul`` by a constant then ``Add`` of a constant (``.../batchnorm/mul_1``, ``add_1``).
* A Keras LayerNormalization: its moments written out, ``mean`` (``GlobalAveragePool`` or
  ``ReduceMean`` over the trailing axes), ``(x - mean)²``'s mean, ``+ epsilon``, ``Sqrt``,
  ``Reciprocal``, ``· gamma``, then ``x · m + (-mean · m + beta)``.

Each is checked whole; a near miss is left to the per-operator recognisers, which list what
they cannot read.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import onnx

from backends.onnx.importing import PATTERNS, Reading, Recogniser, Refused, Thunk, attributes
from backends.onnx.merge import PRODUCT_OP, SUM_OP
from backends.onnx.normalization import BATCH_NORM, LAYER_NORM, epsilon, spec_axis
from backends.onnx.reshape import made_plain
from translator.spec.schema import SCHEMAS

# The scopes tf2onnx's node names keep inside a Keras layer's (``.../bn/batchnorm/mul_1``).
INNER_SCOPES = ("batchnorm", "moments")


def _named(node: onnx.NodeProto) -> onnx.NodeProto:
    """A node standing for ``node`` in naming the layer: its name without an inner scope
    of a Keras layer (``model/bn/batchnorm/mul_1`` → ``model/bn/mul_1``), so that the layer
    is named after the Keras layer's scope."""
    path = node.name.split("/")
    if len(path) < 3 or path[-2] not in INNER_SCOPES:
        return node
    return onnx.helper.make_node(node.op_type, [], [], name="/".join([*path[:-2], path[-1]]))


def _constant_operand(r: Reading, node: onnx.NodeProto | None, op: str) -> tuple[str, str] | None:
    """(the run-time operand, the constant one) of ``op`` on a constant, else None."""
    if node is None or node.op_type != op or len(node.input) != 2:
        return None
    for i in (1, 0):
        if r.const(node.input[i]) is not None and r.const(node.input[1 - i]) is None:
            return node.input[1 - i], node.input[i]
    return None


def _per_channel(value: np.ndarray, shape: tuple[int | None, ...]) -> int | None:
    """The one axis of a tensor of ``shape`` a constant varies along (batch excluded), it
    holding that axis's size, else None (a scalar: no channel to tell)."""
    if value.ndim > len(shape):
        return None
    padded = (1,) * (len(shape) - value.ndim) + value.shape
    varying = [i for i, size in enumerate(padded) if size != 1]
    if len(varying) != 1 or varying[0] == 0 or padded[varying[0]] != shape[varying[0]]:
        return None
    return varying[0]


# BatchNormalization folded by tf2onnx: x · (gamma / sqrt(var + eps)) + (beta - mean · ...).
def _scale_shift(r: Reading, mul: onnx.NodeProto) -> tuple[Any, ...] | None:
    """(x, the channel axis, the scale, the offset, the Add) of a per-channel Mul then Add."""
    scaled = _constant_operand(r, mul, PRODUCT_OP)
    add = r.reader(mul.output[0])
    shifted = _constant_operand(r, add, SUM_OP)
    shape = r.shape(scaled[0]) if scaled is not None else None
    if scaled is None or shifted is None or add is None or not shape:
        return None
    scale, offset = r.const(scaled[1]), r.const(shifted[1])
    if scale is None or offset is None or scale.shape != offset.shape:
        return None
    axis = _per_channel(scale, shape)
    if axis is None or _per_channel(offset, shape) != axis:
        return None
    return scaled[0], axis, scale.reshape(-1), offset.reshape(-1), add


@PATTERNS.register("FoldedBatchNormalization")
def find_scale_shift(r: Reading) -> dict[int, Recogniser]:
    """A per-channel Mul by a constant then Add of a constant → BatchNormalization."""
    found: dict[int, Recogniser] = {}
    for node in r.source.model.graph.node:
        match = _scale_shift(r, node) if node.op_type == PRODUCT_OP else None
        if match is not None:
            found[id(node)] = _batch_norm(node, *match)
    return found


def _batch_norm(
    mul: onnx.NodeProto, x: str, axis: int, scale: Any, offset: Any, add: onnx.NodeProto
) -> Recogniser:
    """The statistics were folded by the exporter into the scale and offset: gamma is the
    scale, beta the offset, the moving mean 0 and the moving variance ``1 - epsilon`` (so
    that ``1 / sqrt(variance + epsilon)`` is 1), the same function with as many weights."""

    def recognise(r: Reading, node: onnx.NodeProto) -> None:
        view = r.view(x)
        layer = {"type": BATCH_NORM, "axis": spec_axis(view.axes[axis], view)}
        eps = SCHEMAS[BATCH_NORM].arg_index["epsilon"].default
        weights = {
            "scale": lambda: scale,
            "B": lambda: offset,
            "input_mean": lambda: np.zeros_like(scale),
            "input_var": lambda: np.full_like(scale, 1.0 - eps),
        }
        r.add(_named(mul), layer, [view], {add.output[0]: view.axes}, weights)
        r.claim(add)

    return recognise


# LayerNormalization written out by tf2onnx (see the module doc).
def _mean_axes(r: Reading, node: onnx.NodeProto | None) -> tuple[int, ...] | None:
    """The ONNX axes a mean keeping them averages: GlobalAveragePool's (all after the
    channels), ReduceMean's; None for another node."""
    if node is None or node.op_type not in ("GlobalAveragePool", "ReduceMean"):
        return None
    rank = len(r.shape(node.input[0]) or ())
    if rank < 2:
        return None
    if node.op_type == "GlobalAveragePool":
        return tuple(range(2, rank))  # none for a (batch, features) tensor
    a = attributes(node)
    axes = a.get("axes", r.const(node.input[1]) if len(node.input) > 1 else None)
    if axes is None or a.get("keepdims", 1) != 1:
        return None
    return tuple(sorted(int(i) % rank for i in np.reshape(axes, -1)))


def _readers(r: Reading, tensor: str, op: str) -> list[onnx.NodeProto]:
    return [n for n in r.source.readers.get(tensor, []) if n.op_type == op]


def _moments(r: Reading, mean: onnx.NodeProto) -> tuple[Any, ...] | None:
    """(x, the axes, epsilon, the nodes to the inverse deviation) from the mean of x."""
    x, axes = mean.input[0], _mean_axes(r, mean)
    rank = len(r.shape(x) or ())
    subs = [n for n in _readers(r, mean.output[0], "Sub") if list(n.input) == [x, mean.output[0]]]
    negs = _readers(r, mean.output[0], "Neg")
    if not axes or axes != tuple(range(rank - len(axes), rank)) or len(subs) != 1 or not negs:
        return None
    readers = {id(n): n for n in r.source.readers.get(subs[0].output[0], [])}  # Mul(d, d): twice
    square = next(iter(readers.values())) if len(readers) == 1 else None
    if square is None or square.op_type != PRODUCT_OP or set(square.input) != {subs[0].output[0]}:
        return None
    variance = r.reader(square.output[0])
    if _mean_axes(r, variance) != axes:
        return None
    shifted = r.reader(variance.output[0])  # type: ignore[union-attr]
    eps = _constant_operand(r, shifted, SUM_OP)
    root = r.reader(shifted.output[0]) if shifted is not None and eps is not None else None
    inverse = r.reader(root.output[0]) if root is not None and root.op_type == "Sqrt" else None
    if eps is None or inverse is None or inverse.op_type != "Reciprocal":
        return None
    number = r.const(eps[1])
    if number is None or number.size != 1:
        return None
    nodes = [mean, negs[0], subs[0], square, variance, shifted, root, inverse]
    return x, axes, float(number.reshape(-1)[0]), nodes


def _affine(r: Reading, x: str, neg: onnx.NodeProto, m: str) -> tuple[Any, ...] | None:
    """(beta or None, the nodes) of ``x · m + (-mean · m [+ beta])``."""
    muls = _readers(r, m, PRODUCT_OP)
    on_x = [n for n in muls if set(n.input) == {x, m}]
    on_neg = [n for n in muls if set(n.input) == {neg.output[0], m}]
    if len(muls) != 2 or len(on_x) != 1 or len(on_neg) != 1:
        return None
    shift = r.reader(on_neg[0].output[0])
    beta = _constant_operand(r, shift, SUM_OP)
    last = r.reader(shift.output[0]) if beta is not None and shift is not None else shift
    shifted = shift.output[0] if beta is not None and shift is not None else on_neg[0].output[0]
    if last is None or last.op_type != SUM_OP or set(last.input) != {on_x[0].output[0], shifted}:
        return None
    added = [shift] if beta is not None else []
    return beta[1] if beta is not None else None, [on_x[0], on_neg[0], *added, last]


def _layer_norm(r: Reading, mean: onnx.NodeProto) -> tuple[Any, ...] | None:
    """(x, the axes, epsilon, gamma, beta (tensors or None), the nodes) around ``mean``."""
    moments = _moments(r, mean)
    if moments is None:
        return None
    x, axes, eps, nodes = moments
    inverse = nodes[-1]
    scaled = _constant_operand(r, r.reader(inverse.output[0]), PRODUCT_OP)
    gamma = scaled[1] if scaled is not None else None
    scale = r.reader(inverse.output[0]) if gamma is not None else None
    m = scale.output[0] if scale is not None else inverse.output[0]
    affine = _affine(r, x, nodes[1], m)
    if affine is None:
        return None
    beta, tail = affine
    return x, axes, eps, gamma, beta, [*nodes, *([scale] if scale else []), *tail]


@PATTERNS.register("LayerNormalizationWrittenOut")
def find_layer_norm(r: Reading) -> dict[int, Recogniser]:
    """LayerNormalization written out (see the module doc) → LayerNormalization, claimed at
    its first node in file order."""
    order = {id(n): i for i, n in enumerate(r.source.model.graph.node)}
    found: dict[int, Recogniser] = {}
    for node in r.source.model.graph.node:
        match = _layer_norm(r, node) if _mean_axes(r, node) else None
        if match is not None:
            found[id(min(match[-1], key=lambda n: order[id(n)]))] = _layer_norm_reader(*match)
    return found


def _vector(r: Reading, tensor: str | None, shape: tuple[int, ...], rank: int) -> Any:
    """A gamma or beta as the normalized axes' ``shape``; refused when shaped otherwise."""
    value = r.weight(tensor) if tensor is not None else None
    if value is None:
        return None
    padded = (1,) * (rank - value.ndim) + value.shape
    if value.ndim > rank or padded[rank - len(shape) :] != shape or math.prod(padded) != value.size:
        raise Refused(f"its scale or offset '{tensor}' is not shaped as the normalized axes")
    return value.reshape(shape)


def _thunk(value: np.ndarray) -> Thunk:
    return lambda: value


def _layer_norm_reader(
    x: str, axes: tuple[int, ...], eps: float, gamma: str | None, beta: str | None, nodes: list[Any]
) -> Recogniser:
    def recognise(r: Reading, node: onnx.NodeProto) -> None:
        view = r.view(x)
        rank, first = len(view.axes), axes[0]
        shape = tuple(int(s or 0) for s in (r.shape(x) or ())[first:])
        scale, offset = _vector(r, gamma, shape, rank), _vector(r, beta, shape, rank)
        if view.axes[first:] != tuple(range(first, rank)):
            view = made_plain(r, x)  # the spec tensor permuted: a Permute first
        normalized = view.axes[first:]
        if normalized != tuple(range(first, rank)):
            raise Refused(f"it normalizes spec axes {normalized}, not the trailing ones")
        pairs = (("Scale", scale), ("B", offset))
        weights = {name: _thunk(value) for name, value in pairs if value is not None}
        layer = {
            "type": LAYER_NORM,
            "axis": -1 if len(normalized) == 1 else list(normalized),
            "epsilon": epsilon(eps),
            "center": offset is not None,
            "scale": scale is not None,
        }
        r.add(_named(nodes[-1]), layer, [view], {nodes[-1].output[0]: view.axes}, weights)
        for claimed in nodes:
            r.claim(claimed)

    return recognise
