"""Reading the forms Keras layers take in TensorFlow graphs converted by tf2onnx, claimed as
one spec layer each (``PATTERNS``, at their first node in file order).

Keras's Embedding under TensorFlow wraps negative ids before its ``Gather``, and tf2onnx
writes the ``SelectV2`` out: ``Add(Mul(Cast(Less(ids, 0)), Add(ids, rows)),
Mul(ids, Cast(Not(Less(ids, 0)))))``. ONNX's Gather wraps negative ids itself, so the whole
is one Embedding of ``ids``; the wrap must add the table's rows, else the pattern is left to
the per-operator recognisers.
"""

from __future__ import annotations

import onnx

from backends.onnx.composite_reading import _by_number
from backends.onnx.core import embedding
from backends.onnx.importing import PATTERNS, RECOGNISERS, Reading, Recogniser, Refused, attributes
from backends.onnx.merge import PRODUCT_OP, SUM_OP

Nodes = list[onnx.NodeProto]


def _made(r: Reading, tensor: str, op: str) -> onnx.NodeProto | None:
    """The node making ``tensor`` if it is an ``op``, else None."""
    node = r.source.producers.get(tensor)
    return node if node is not None and node.op_type == op else None


def _uncast(r: Reading, tensor: str) -> tuple[str, Nodes]:
    """``tensor`` before the Cast making it, if one does, and that Cast."""
    cast = _made(r, tensor, "Cast")
    return (cast.input[0], [cast]) if cast is not None else (tensor, [])


def _negative(r: Reading, mask: str) -> tuple[str, Nodes] | None:
    """(ids, the nodes) of ``Cast(Less(ids or Cast(ids), 0))``: where the ids are negative."""
    less_out, casts = _uncast(r, mask)
    less = _made(r, less_out, "Less")
    zero = r.const(less.input[1]) if less is not None else None
    if less is None or not casts or zero is None or zero.size != 1 or float(zero.reshape(-1)[0]):
        return None
    ids, inner = _uncast(r, less.input[0])
    return ids, [*inner, less, *casts]


def _wrap(
    r: Reading, wrapped: onnx.NodeProto, kept: onnx.NodeProto, rows: int
) -> tuple[str, Nodes] | None:
    """(ids, the nodes) of the select's two products: ``wrapped`` choosing ``ids + rows``
    where the ids are negative, ``kept`` choosing the ids elsewhere."""
    for mask, shifted in (wrapped.input, wrapped.input[::-1]):
        negative = _negative(r, mask)
        add = _made(r, shifted, SUM_OP)
        number = _by_number(r, add, SUM_OP)
        if negative is None or add is None or number is None:
            continue
        ids, found = negative
        other = [t for t in kept.input if t != ids]
        inverse = _made(r, other[0], "Cast") if len(other) == 1 else None
        flip = _made(r, inverse.input[0], "Not") if inverse is not None else None
        if number != (ids, rows) or inverse is None or flip is None:
            continue
        if flip.input[0] == found[-2].output[0]:
            return ids, [*found, add, wrapped, inverse, flip, kept]
    return None


def _selected(r: Reading, gather: onnx.NodeProto) -> tuple[str, Nodes] | None:
    """(ids, the nodes of the select, in no order) of the wrap before ``gather``."""
    top = _made(r, gather.input[1], SUM_OP)
    products = [_made(r, t, PRODUCT_OP) for t in top.input] if top is not None else []
    pair = [p for p in products if p is not None]
    if top is None or len(pair) != 2:
        return None
    rows = r.weight(gather.input[0]).shape[0]
    for wrapped, kept in (pair, pair[::-1]):
        match = _wrap(r, wrapped, kept, rows)
        if match is not None and _closed(r, [*match[1], top], gather):
            return match[0], [*match[1], top]
    return None


def _closed(r: Reading, nodes: Nodes, gather: onnx.NodeProto) -> bool:
    """Whether only ``nodes`` and ``gather`` read what ``nodes`` make."""
    inside = {id(n) for n in [*nodes, gather]}
    made = [t for n in nodes for t in n.output]
    return all(id(n) in inside for t in made for n in r.source.readers.get(t, []))


@PATTERNS.register("WrappedEmbedding")
def find_wrapped_embedding(r: Reading) -> dict[int, Recogniser]:
    """Keras's Embedding as TensorFlow writes it, negative ids wrapped (see the module doc)
    → Embedding, claimed at the select's first node in file order."""
    order = {id(n): i for i, n in enumerate(r.source.model.graph.node)}
    found: dict[int, Recogniser] = {}
    for node in r.source.model.graph.node:
        if node.op_type != "Gather" or not r.source.is_weight(node.input[0]):
            continue
        match = _selected(r, node)
        if match is not None:
            first = min(match[1], key=lambda n: order[id(n)])
            found[id(first)] = _embedding_recogniser(node, *match)
    return found


def _embedding_recogniser(gather: onnx.NodeProto, ids: str, nodes: Nodes) -> Recogniser:
    def recognise(r: Reading, node: onnx.NodeProto) -> None:
        embedding(r, gather, r.view(ids))
        for claimed in [*nodes, gather]:
            r.claim(claimed)

    return recognise


# TensorFlow function calls tf2onnx could not convert (a grouped Conv2D compiled with XLA
# is left as ``StatefulPartitionedCall``): no ONNX operator, and the function is not in the
# file, so no ONNX reader, onnxruntime included, can compute the node.
TENSORFLOW_CALLS = ("StatefulPartitionedCall", "PartitionedCall")


@RECOGNISERS.register(*TENSORFLOW_CALLS)
def read_tensorflow_call(r: Reading, node: onnx.NodeProto) -> None:
    """A TensorFlow function call the exporter left in the graph: refused, saying so."""
    function = attributes(node).get("f", "")
    raise Refused(
        f"the exporter left a call of the TensorFlow function '{function}', which is no ONNX"
        " operator and which no ONNX reader (onnxruntime included) can compute; export the"
        " layer in a form tf2onnx converts (a grouped Conv2D: as separate convolutions)"
    )
