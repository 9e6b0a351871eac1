"""Reading a causal mask that the translator's own ONNX attention writes: the scores kept
where a lower triangle of ones (``Trilu`` of ``ConstantOfShape(Shape(scores))``) is true,
a large negative number elsewhere (``Where``). The batch axis is dynamic, so the triangle is
no constant the reader can compute: its construction is read instead."""

from __future__ import annotations

import onnx
from onnx import numpy_helper

from backends.onnx.importing import Reading, attributes

WHERE_BLOCKED = -1e9  # at most this where a Where blocks (exp underflows to 0 in float32)


def _made_by(r: Reading, tensor: str, op: str) -> onnx.NodeProto | None:
    node = r.source.producers.get(tensor)
    return node if node is not None and node.op_type == op else None


def causal_where(r: Reading, where: onnx.NodeProto) -> list[onnx.NodeProto] | None:
    """The nodes making a causal mask of ``Where(mask, scores, blocked)`` (Cast, Trilu,
    ConstantOfShape, Shape of the scores), else None."""
    if where.op_type != "Where" or len(where.input) != 3:
        return None
    cast = _made_by(r, where.input[0], "Cast")
    trilu = _made_by(r, cast.input[0], "Trilu") if cast is not None else None
    ones = _made_by(r, trilu.input[0], "ConstantOfShape") if trilu is not None else None
    shape = _made_by(r, ones.input[0], "Shape") if ones is not None else None
    fill = r.const(where.input[2])
    if cast is None or trilu is None or ones is None or shape is None or fill is None:
        return None
    if shape.input[0] != where.input[1] or fill.size != 1:
        return None
    diagonal = r.const(trilu.input[1]) if len(trilu.input) > 1 and trilu.input[1] else None
    value = attributes(ones).get("value")
    one = numpy_helper.to_array(value).reshape(-1)[0] if value is not None else 0.0
    lower = attributes(trilu).get("upper", 1) == 0 and (diagonal is None or int(diagonal) == 0)
    if not lower or float(one) == 0 or float(fill.reshape(-1)[0]) > WHERE_BLOCKED:
        return None
    return [shape, ones, trilu, cast]
