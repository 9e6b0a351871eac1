"""The spec layers attention subgraphs of an ONNX graph are: each match
``backends.onnx.attention_reading`` finds becomes MultiHeadAttention or GroupQueryAttention
(with the projections' weights as the IR's ONNX tensors ``q_W``, ``k_W``, ``v_W``, ``out_W``
and their biases), claimed at its first node in file order; and a learned position
embedding added to a sequence (``Add(x, Gather(table, positions))``, the positions the
constant 0 … steps − 1, or a buffer of them sliced to the run-time length) becomes
PositionEmbedding and Add.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import onnx

from backends.onnx.activation import SOFTMAX_OP
from backends.onnx.attention import grouped_layer, multihead_layer, position_layer
from backends.onnx.attention_reading import Match, attends, match
from backends.onnx.importing import (
    PATTERNS,
    UNFORESEEN,
    Reading,
    Recogniser,
    Refused,
    View,
    attributes,
)
from backends.onnx.merge import MERGE_TYPES, SUM_OP
from backends.onnx.reading import NAME_SCOPES, scopes
from backends.onnx.reshape import made_plain
from backends.onnx.sized_reading import probed


def _common(paths: list[list[str]]) -> list[str]:
    """The longest prefix all ``paths`` share."""
    common: list[str] = []
    for level in zip(*paths, strict=False):
        if len(set(level)) != 1:
            break
        common.append(level[0])
    return common


def _scope(nodes: list[onnx.NodeProto]) -> onnx.NodeProto:
    """A stand-in node named for the innermost module all ``nodes`` lie in (the dynamo
    exporter's ``name_scopes``, the TorchScript exporter's node paths), so the layer is
    named as the PyTorch importer names it (``encoder.layer.0.attention``)."""
    common = _common([scopes(node)[:-1] for node in nodes])
    path = _common([n.name.split("/") for n in nodes])
    stand_in = onnx.helper.make_node("Attention", [], [], name="/".join([*path, "Attention"]))
    if common:
        stand_in.metadata_props.add(key=NAME_SCOPES, value=str(["", *common, "attention"]))
    return stand_in


def _layer(m: Match) -> dict[str, Any]:
    """MultiHeadAttention or GroupQueryAttention arguments from a match's sizes."""
    size = m.head_size
    q, k, v = (m.roles[role].tensors()[0] for role in ("query", "key", "value"))
    heads, kv_heads = q.shape[1] // size, k.shape[1] // size
    rotated = m.roles["query"].base
    factor = m.factor * m.roles["query"].factor * m.roles["key"].factor
    if not math.isclose(factor, size**-0.5, rel_tol=1e-6):  # a float32 constant's precision
        raise Refused(f"scores not scaled by 1/sqrt({size})")
    if m.roles["value"].factor != 1.0 or m.roles["value"].base is not None:
        raise Refused("values scaled or rotated")
    if rotated != m.roles["key"].base or q.shape[1] != heads * size or heads % max(kv_heads, 1):
        raise Refused(f"{kv_heads} key/value heads for {heads} query heads, or q alone rotated")
    for name, role in m.roles.items():  # (…, heads, size): each head a run of features
        width = role.tensors()[0].shape[1]
        if len(role.split) < 2 or role.split[-1] != size or (role.split[-2] or 0) * size != width:
            raise Refused(f"the {name} heads are not split off as (…, heads, {size})")
    biased = {r: m.roles[r].projection.bias is not None for r in m.roles}
    biased["output"] = m.output.bias is not None
    mixed = len(set(biased.values())) != 1
    common = {"use_bias": any(biased.values()), "causal": m.causal}
    if kv_heads == heads and rotated is None:
        widths = (v.shape[1], m.output.kernel.shape[1], m.roles["query"].projection.kernel.shape[0])
        # Some projections without a bias (Whisper's k_proj): ``<role>_bias: false`` each.
        own = {f"{r}_bias": False for r, has in biased.items() if mixed and not has}
        return multihead_layer(heads, size, *widths) | common | own
    if mixed:
        raise Refused("grouped attention where some projections have a bias and some none")
    if v.shape[1] != kv_heads * size:
        raise Refused("values of another size than the keys' in grouped attention")
    return grouped_layer(heads, kv_heads, size, rotated) | common


def _weights(m: Match) -> dict[str, Any]:
    """The IR's ONNX tensors: (in, heads·size) kernels, their biases, (heads·size, out)."""
    out: dict[str, Any] = {}
    for role, prefix in (("query", "q"), ("key", "k"), ("value", "v")):
        kernel, bias = m.roles[role].tensors()
        out[f"{prefix}_W"] = lambda kernel=kernel: kernel
        if bias is not None:
            out[f"{prefix}_B"] = lambda bias=bias: bias
    out["out_W"] = lambda: m.output.kernel
    if m.output.bias is not None:
        out["out_B"] = lambda: m.output.bias
    return out


def _recogniser(m: Match) -> Recogniser:
    def recognise(r: Reading, node: onnx.NodeProto) -> None:
        layer = _layer(m)
        sources = [m.roles[role].projection.source for role in ("query", "value", "key")]
        views = [r.view(t) for t in dict.fromkeys(sources)]
        outputs = {m.output.output: views[0].axes}
        projections = [*m.roles["query"].projection.nodes, *m.output.nodes]
        r.add(_scope(projections), layer, views, outputs, _weights(m))
        for claimed in m.nodes:  # once the layer is added: a refusal lists the nodes
            r.claim(claimed)

    return recognise


def _refusal(reason: str) -> Recogniser:
    def refuse(r: Reading, node: onnx.NodeProto) -> None:
        raise Refused(f"attention not recognised: {reason}")

    return refuse


def _closed(r: Reading, m: Match) -> bool:
    """Whether nothing outside the match reads what its nodes make (but its output, and
    Shape nodes, which read no values)."""
    inside = {id(n) for n in m.nodes}
    for node in m.nodes:
        for tensor in node.output:
            readers = r.source.readers.get(tensor, [])
            outside = [n for n in readers if id(n) not in inside and n.op_type != "Shape"]
            if tensor != m.output.output and (outside or tensor in r.source.outputs):
                return False
    return True


@PATTERNS.register("Attention")
def find_attention(r: Reading) -> dict[int, Recogniser]:
    """Each softmax's attention, claimed at its first node in file order; a softmax whose
    surroundings are not attention is listed with the reason."""
    order = {id(n): i for i, n in enumerate(r.source.model.graph.node)}
    found: dict[int, Recogniser] = {}
    for node in r.source.model.graph.node:
        if node.op_type != SOFTMAX_OP:
            continue
        try:
            m = match(r, node)
        except Refused as exc:  # a plain softmax (an activation) is left to its recogniser
            if attends(r, node):
                found[id(node)] = _refusal(str(exc))
            continue
        except UNFORESEEN as exc:
            if attends(r, node):
                found[id(node)] = _refusal(f"not understood ({type(exc).__name__}: {exc})")
            continue
        if _closed(r, m):
            found[id(min(m.nodes, key=lambda n: order[id(n)]))] = _recogniser(m)
    return found


def _counting(ids: np.ndarray) -> bool:
    """Whether every row of ``ids`` is 0 … steps − 1."""
    rows = ids.reshape(-1, ids.shape[-1]) if ids.ndim else ids.reshape(1, 1)
    return ids.ndim > 0 and all(np.array_equal(row, np.arange(ids.shape[-1])) for row in rows)


def _positions(r: Reading, gather: onnx.NodeProto | None) -> np.ndarray | None:
    """The table of ``Gather(table, positions)``, positions 0 … steps − 1 (constants, or
    cut to the run-time length: at each probe of the inputs' sizes); else None."""
    if gather is None or gather.op_type != "Gather" or not r.source.is_weight(gather.input[0]):
        return None
    table, ids = r.const(gather.input[0]), probed(r.source, gather.input[1])
    if table is None or not ids or attributes(gather).get("axis", 0) != 0:
        return None
    return table if table.ndim == 2 and all(_counting(i) for i in ids) else None


@PATTERNS.register("LearnedPositions")
def find_position_embeddings(r: Reading) -> dict[int, Recogniser]:
    """``Add(x, Gather(table, 0 … steps − 1))`` → PositionEmbedding(rows of the table) of x,
    then Add (BERT's and GPT-2's learned positions)."""
    found: dict[int, Recogniser] = {}
    for node in r.source.model.graph.node:
        if node.op_type != SUM_OP or len(node.input) != 2:
            continue
        for i, tensor in enumerate(node.input):
            gather = r.source.producers.get(tensor)
            table = _positions(r, gather)
            if table is not None and r.const(node.input[1 - i]) is None:
                found[id(node)] = _position_recogniser(gather, table, node.input[1 - i])
            elif _folded_rows(r, tensor, node.input[1 - i]):
                found[id(node)] = _folded_refusal(r.source.size(tensor))
    return found


def _folded_rows(r: Reading, rows: str, other: str) -> bool:
    """Whether ``rows`` is a weight of (1, steps, features) added to a (batch, steps,
    features) sequence: position embeddings folded to the steps the file was exported for."""
    shape, seen = r.shape(other) or (), r.shape(rows) or ()
    return r.source.is_weight(rows) and len(shape) == 3 and seen == (1, *shape[1:])


def _folded_refusal(size: int) -> Recogniser:
    def refuse(r: Reading, node: onnx.NodeProto) -> None:
        raise Refused(
            f"it adds {size} constant values, one row per step: a position table cut to the"
            " steps of the export (torch.onnx's optimizer folds it; export with"
            " optimize=False to keep the whole table)"
        )

    return refuse


def _position_recogniser(gather: Any, table: np.ndarray, other: str) -> Recogniser:
    def recognise(r: Reading, node: onnx.NodeProto) -> None:
        x = made_plain(r, other)  # a permuted sequence (Whisper's frames): a Permute first
        shape = r.shape(other) or ()
        if len(shape) != 3 or shape[-1] != table.shape[1] or (shape[1] or 0) > table.shape[0]:
            raise Refused("position embeddings of another width, or fewer than the steps")
        layer = position_layer(table.shape[0])
        name = r.add(gather, layer, [x], {}, {"embeddings": lambda: table})
        sum_layer = {"type": MERGE_TYPES[SUM_OP]}
        r.add(node, sum_layer, [x, View(name, x.axes)], {node.output[0]: x.axes})

    return recognise
