"""Reading the forms Keras layers take in TensorFlow graphs converted by tf2onnx, claimed as
one spec layer each (``PATTERNS``, at their first node in file order).

TimeDistributed under TensorFlow is vectorised by ``pfor``: a ``Loop`` stacks the steps
``x[i]`` of the time-major sequence one by one (over all indices, in order: the sequence
itself), then the layer runs on the steps merged into the batch. The Loop is read as a view
of the sequence (and shape inference, which cannot see through a Loop, is run again with it
replaced by an ``Identity``); the layer after it as the layer on the sequence (a Dense on a
sequence is TimeDistributed(Dense); a Dense on a sequence as TensorFlow's ``Tensordot``
writes it, Reshape → MatMul → Reshape back → Add of the bias, is read in ``core``).

Keras's Embedding under TensorFlow wraps negative ids before its ``Gather``, and tf2onnx
writes the ``SelectV2`` out: ``Add(Mul(Cast(Less(ids, 0)), Add(ids, rows)),
Mul(ids, Cast(Not(Less(ids, 0)))))``. ONNX's Gather wraps negative ids itself, so the whole
is one Embedding of ``ids``; the wrap must add the table's rows, else the pattern is left to
the per-operator recognisers.
"""

from __future__ import annotations

import numpy as np
import onnx
from onnx import helper, numpy_helper

from backends.onnx.composite_reading import by_number
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
        number = by_number(r, add, SUM_OP)
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


def _body_const(body: onnx.GraphProto, r: Reading, tensor: str) -> np.ndarray | None:
    """A constant a Loop body reads: its own initializer, or the graph's."""
    inits = {i.name: i for i in body.initializer}
    return numpy_helper.to_array(inits[tensor]) if tensor in inits else r.const(tensor)


def _stacked(r: Reading, loop: onnx.NodeProto) -> str | None:
    """The tensor whose rows along axis 0 a pfor Loop stacks, its one scan output being the
    ``Squeeze(Slice(x, ..., axes=[0]))`` of a loop-carried ``x`` passed on unchanged; else
    None."""
    body = next((a.g for a in loop.attribute if a.name == "body"), None)
    carried = len(loop.input) - 2
    if body is None or len(body.output) - 1 - carried != 1:
        return None
    made = {t: n for n in body.node for t in n.output}
    squeeze = made.get(body.output[-1].name)
    sliced = made.get(squeeze.input[0]) if squeeze is not None else None
    if (
        squeeze is None
        or sliced is None
        or (squeeze.op_type, sliced.op_type) != ("Squeeze", "Slice")
    ):
        return None
    names = [i.name for i in body.input[2:]]
    if sliced.input[0] not in names:
        return None
    k = names.index(sliced.input[0])
    axes = [_body_const(body, r, t) for t in (squeeze.input[1:2] + sliced.input[3:4])]
    passed = body.output[1 + k].name == sliced.input[0]
    on_rows = len(axes) == 2 and all(a is not None and a.reshape(-1).tolist() == [0] for a in axes)
    return loop.input[2 + k] if passed and on_rows else None


def _refined(r: Reading, loops: dict[str, str]) -> None:
    """Shapes inferred again with each stacking Loop (its scan output → the tensor it
    stacks) replaced by an Identity: onnx's inference cannot see through a Loop."""
    model = onnx.ModelProto()
    model.CopyFrom(r.source.model)
    nodes = [
        helper.make_node("Identity", [loops[n.output[-1]]], [n.output[-1]], name=n.name)
        if n.op_type == "Loop" and n.output[-1] in loops
        else n
        for n in model.graph.node
    ]
    del model.graph.node[:]
    model.graph.node.extend(nodes)
    inferred = onnx.shape_inference.infer_shapes(model, data_prop=True).graph
    for value in [*inferred.value_info, *inferred.output]:
        dims = value.type.tensor_type.shape.dim
        shape = tuple(d.dim_value if d.HasField("dim_value") else None for d in dims)
        old = r.source.shapes.get(value.name)
        if old is None or sum(d is not None for d in shape) > sum(d is not None for d in old):
            r.source.shapes[value.name] = shape


@PATTERNS.register("StackingLoop")
def find_stacking_loop(r: Reading) -> dict[int, Recogniser]:
    """A pfor Loop stacking the steps of a sequence (see the module doc) → a view of it."""
    found: dict[int, Recogniser] = {}
    loops: dict[str, str] = {}
    for node in r.source.model.graph.node:
        stacked = _stacked(r, node) if node.op_type == "Loop" else None
        if stacked is not None:
            found[id(node)] = _stacking_recogniser(stacked)
            loops[node.output[-1]] = stacked
    if loops:
        _refined(r, loops)
    return found


def _counted(r: Reading, tensors: list[str]) -> set[int | None]:
    """The spec axes whose lengths the static ``tensors`` are computed from: each ``Shape``
    of a spec tensor among their makers, and the axis a ``Slice`` of it picks (None for a
    use of the Shape that is not such a pick)."""
    picked: set[int | None] = set()
    seen, todo = set(), list(tensors)
    while todo:
        node = r.source.producers.get(todo.pop())
        if node is None or id(node) in seen:
            continue
        seen.add(id(node))
        if node.op_type != "Shape" or node.input[0] not in r.views:
            todo.extend(t for t in node.input if t)
            continue
        axes = r.views[node.input[0]].axes
        for use in r.source.readers.get(node.output[0], []):
            user = r.reader(use.output[0]) if use.op_type == "Cast" else use
            start = r.const(user.input[1]) if user is not None and user.op_type == "Slice" else None
            picked.add(None if start is None else axes[int(start.reshape(-1)[0])])
    return picked


def _stacking_recogniser(stacked: str) -> Recogniser:
    def recognise(r: Reading, node: onnx.NodeProto) -> None:
        others = [t for t in node.input if t and t != stacked]
        if any(t not in r.static and not r.source.is_const(t) for t in others):
            raise Refused("a Loop stacking rows of a tensor, counted by run-time data")
        x = r.view(stacked)
        counted = _counted(r, others)
        if counted != {x.axes[0]}:
            axes = ", ".join("?" if a is None else str(a) for a in sorted(counted, key=str))
            raise Refused(
                "TensorFlow's pfor Loop of a TimeDistributed over a free number of steps stacks"
                f" as many steps as spec axis {axes} is long (0: the batch), not axis"
                f" {x.axes[0]}, which it stacks: the file's output has as many steps as the batch"
                " has examples, and it fails on more examples than steps (so does the TensorFlow"
                " graph Keras traces)"
            )
        r.views[node.output[-1]] = x

    return recognise
