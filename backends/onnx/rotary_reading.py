"""Reading rotary position embeddings in an ONNX graph, as Llama applies them to a
(batch, heads, steps, size) head: ``x·cos + rotate_half(x)·sin``, rotate_half(x) =
Concat(−x[…, half:], x[…, :half]) on the last axis, with cos and sin tables computed from
constants alone (or cut to the run-time length: read at several lengths). Their base is read off the tables (the angle of position 1, feature 1 is
base^(−2/size)) and every entry checked against Llama's formula, as the PyTorch importer
does (``backends.torch.program``).
"""

from __future__ import annotations

import numpy as np
import onnx

from backends.onnx.importing import Reading, Refused, attributes
from backends.onnx.merge import SUM_OP
from backends.onnx.sized_reading import probed
from translator.ops.attention import rotary_base


def unrotated(r: Reading, node: onnx.NodeProto) -> tuple[str, float, list[onnx.NodeProto]] | None:
    """(the heads rotated, the base, the nodes) when ``node`` is the rotation's Add."""
    if node.op_type != SUM_OP:
        return None
    products = [r.source.producers.get(t) for t in node.input]
    found = [_with_table(r, p) for p in products if p is not None and p.op_type == "Mul"]
    if len(found) != 2 or None in found:
        return None
    (x, cos), (turned, sin) = found  # type: ignore[misc]
    turn = _turned(r, turned, x)
    if turn is None:
        (x, cos), (turned, sin) = (turned, sin), (x, cos)
        turn = _turned(r, turned, x)
    size = (r.shape(x) or (0,))[-1] or 0
    if turn is None:
        return None
    return x, base(cos, sin, size), [node, *products, *turn]  # type: ignore[list-item]


def _with_table(r: Reading, product: onnx.NodeProto) -> tuple[str, list[np.ndarray]] | None:
    """(the operand computed at run time, the other's table: a constant, or its value at
    each probe of the inputs' sizes when cut to the run-time length), or None."""
    first, second = (probed(r.source, t) for t in product.input)
    if second is not None and first is None and all(t.size > 1 for t in second):
        return product.input[0], second
    if first is not None and second is None and all(t.size > 1 for t in first):
        return product.input[1], first
    return None


def _slice(r: Reading, node: onnx.NodeProto | None, x: str) -> tuple[int, int] | None:
    """(start, end) of a Slice of ``x`` along its last axis, else None."""
    if node is None or node.op_type != "Slice" or node.input[0] != x or len(node.input) < 4:
        return None
    starts, ends, axes = (r.const(t) for t in node.input[1:4])
    steps = r.const(node.input[4]) if len(node.input) > 4 and node.input[4] else None
    rank = len(r.shape(x) or ())
    if starts is None or ends is None or axes is None or axes.size != 1:
        return None
    if int(axes.reshape(-1)[0]) % rank != rank - 1 or (
        steps is not None and int(steps.reshape(-1)[0]) != 1
    ):
        return None
    size = (r.shape(x) or (0,))[-1] or 0
    return int(starts.reshape(-1)[0]), min(int(ends.reshape(-1)[0]), size)


def _turned(r: Reading, turned: str, x: str) -> list[onnx.NodeProto] | None:
    """The nodes of rotate_half(x) making ``turned``, or None."""
    cat = r.source.producers.get(turned)
    rank = len(r.shape(x) or ())
    if cat is None or cat.op_type != "Concat" or len(cat.input) != 2:
        return None
    if attributes(cat).get("axis", 0) % max(rank, 1) != rank - 1:
        return None
    neg, first = (r.source.producers.get(t) for t in cat.input)
    if neg is None or neg.op_type != "Neg":
        return None
    second = r.source.producers.get(neg.input[0])
    size = (r.shape(x) or (0,))[-1] or 0
    half = size // 2
    if (_slice(r, first, x), _slice(r, second, x)) != ((0, half), (half, size)):
        return None
    return [cat, neg, first, second]  # type: ignore[list-item]


def base(cos: list[np.ndarray], sin: list[np.ndarray], size: int) -> float:
    """The base Llama's tables of cos and sin were made with (at every length probed);
    refused if they are not."""
    try:
        found = {rotary_base(c, s, size) for c, s in zip(cos, sin, strict=True)}
    except ValueError as exc:
        raise Refused(str(exc)) from None
    if len(found) != 1:
        raise Refused("rotary tables of another base at another length")
    return found.pop()
