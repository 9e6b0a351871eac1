"""Reading attention in an ONNX graph, as ``torch.onnx.export`` writes Hugging Face models'
(BERT, GPT-2, Llama): one spec layer for the subgraph from the q/k/v projections through the
output projection.

Each ``Softmax`` over the last axis anchors a match: its scores come from ``MatMul(q, kᵀ)``
(scaled by numbers, a constant mask added), its probabilities (through the NaN guard the
exporter writes) multiply the values, and the context goes, through reshapes and
transposes, into an output projection. Each of q, k and v is followed back through
reshapes, transposes, scaling by numbers (``Sqrt(CastLike(scale, q))``), the repeat of
grouped key/value heads (``Unsqueeze``/``Expand``), rotary embeddings
(``x·cos + rotate_half(x)·sin``, the tables constant: their base read back from them) and the
split of a fused projection (GPT-2's ``c_attn``), to a projection: ``MatMul(x, W)`` (+ a bias
``Add``), or a transformers Conv1D's ``Reshape → Gemm → Reshape``. A form this reading does
not foresee, or a mask neither empty nor causal, leaves the softmax listed with the reason;
``backends.onnx.attention_layers`` makes the spec layer of a match (where the scale must be
``1/sqrt(head size)``), or lists the match's first node with the reason, never guessing.

A file exported with a dynamic batch and length computes its mask and rotary tables from the
run-time length, splits heads by a shape computed at run time (``Concat(Shape(x)[:2], [-1,
16])``) and slices to the length (``x[:, 0:INT64_MAX]``): each is read at several sizes of
the inputs (``backends.onnx.sized_reading``) and must be what a static file holds at each.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import onnx

from backends.onnx.importing import Reading, Refused, attributes
from backends.onnx.mask_reading import causal_where
from backends.onnx.merge import SUM_OP
from backends.onnx.reshape import RESHAPE_OP
from backends.onnx.rotary_reading import unrotated
from backends.onnx.sized_reading import keeps_whole, probed, reshaped
from translator.ops.attention import mask_is_causal

# Operators that only move a tensor's values about (and the GQA repeat of key/value heads).
SHAPING = {RESHAPE_OP, "Transpose", "Identity", "Unsqueeze", "Squeeze", "Expand"}
# Operators on a scale computed from a number (the exporter casts it like q, then its root).
SCALAR_OPS = {"Sqrt", "CastLike", "Cast", "Reciprocal"}


@dataclass
class Projection:
    """``source @ kernel (+ bias)`` making ``output``; kernel (in, out)."""

    source: str
    kernel: np.ndarray
    bias: np.ndarray | None
    output: str
    nodes: list[onnx.NodeProto]


@dataclass
class Heads:
    """q, k or v: part ``part`` of ``parts`` of a projection, scaled by ``factor``, rotated
    with ``base`` (None: not rotated), through ``nodes``."""

    projection: Projection
    part: int = 0
    parts: int = 1
    factor: float = 1.0
    base: float | None = None
    nodes: list[onnx.NodeProto] = field(default_factory=list)
    split: tuple[int | None, ...] = ()  # the shape of the Reshape nearest the projection

    def tensors(self) -> tuple[np.ndarray, np.ndarray | None]:
        """This part's kernel columns and bias."""
        p = self.projection
        width = p.kernel.shape[1] // self.parts
        cut = slice(self.part * width, (self.part + 1) * width)
        return p.kernel[:, cut], None if p.bias is None else p.bias[cut]


def _producer(r: Reading, tensor: str) -> onnx.NodeProto | None:
    return r.source.producers.get(tensor)


def _gemm_kernel(r: Reading, gemm: onnx.NodeProto) -> tuple[np.ndarray, np.ndarray | None] | None:
    """A Gemm's (in, out) kernel and bias when it is ``x @ B (+ C)``; else None."""
    a = attributes(gemm)
    if a.get("transA", 0) or a.get("alpha", 1.0) != 1.0 or a.get("beta", 1.0) != 1.0:
        return None
    kernel = r.const(gemm.input[1])
    bias = r.const(gemm.input[2]) if len(gemm.input) > 2 and gemm.input[2] else None
    if kernel is None or kernel.ndim != 2:
        return None
    return (kernel.T if a.get("transB", 0) else kernel), bias


def linear(r: Reading, node: onnx.NodeProto) -> Projection | None:
    """The projection ``node`` ends: MatMul(x, W), Add(MatMul(x, W), b), or a Conv1D's
    Reshape(Gemm(Reshape(x))) keeping x's leading axes; else None."""
    if node.op_type == SUM_OP:
        for i, tensor in enumerate(node.input):
            bias, inner = r.const(tensor), _producer(r, node.input[1 - i])
            found = linear(r, inner) if inner is not None and inner.op_type == "MatMul" else None
            if found is not None and bias is not None and bias.shape == found.kernel.shape[1:]:
                nodes = [node, *found.nodes]
                return Projection(found.source, found.kernel, bias, node.output[0], nodes)
        return None
    if node.op_type == "MatMul":
        kernel = r.const(node.input[1])
        if kernel is None or kernel.ndim != 2 or r.const(node.input[0]) is not None:
            return None
        return Projection(node.input[0], kernel, None, node.output[0], [node])
    gemm = _producer(r, node.input[0]) if node.op_type == RESHAPE_OP else None
    flat = _producer(r, gemm.input[0]) if gemm is not None and gemm.op_type == "Gemm" else None
    if gemm is None or flat is None or flat.op_type != RESHAPE_OP:
        return None
    gemm_kernel = _gemm_kernel(r, gemm)
    before, after = r.shape(flat.input[0]), r.shape(node.output[0])
    if gemm_kernel is None or before is None or after is None or before[:-1] != after[:-1]:
        return None
    return Projection(flat.input[0], *gemm_kernel, node.output[0], [node, gemm, flat])


def scalar(r: Reading, tensor: str) -> tuple[float, list[onnx.NodeProto]] | None:
    """A one-element tensor's value (and the nodes computing it from a constant: the
    exporter's ``Sqrt(CastLike(scale, q))``), else None."""
    value = r.const(tensor)
    if value is not None:
        return (float(value.reshape(-1)[0]), []) if value.size == 1 else None
    node = _producer(r, tensor)
    inner = scalar(r, node.input[0]) if node is not None and node.op_type in SCALAR_OPS else None
    if node is None or inner is None:
        return None
    x = {"Sqrt": math.sqrt, "Reciprocal": lambda v: 1.0 / v}.get(node.op_type, float)(inner[0])
    return x, [node, *inner[1]]


def scaled(r: Reading, node: onnx.NodeProto) -> tuple[float, list[onnx.NodeProto], str] | None:
    """(the factor, its nodes, the data operand) of a Mul or Div by a number; else None."""
    if node.op_type not in ("Mul", "Div"):
        return None
    for i in (1, 0) if node.op_type == "Mul" else (1,):
        number = scalar(r, node.input[i])
        if number is not None and scalar(r, node.input[1 - i]) is None:
            factor = 1.0 / number[0] if node.op_type == "Div" else number[0]
            return factor, number[1], node.input[1 - i]
    return None


def _split(r: Reading, node: onnx.NodeProto, tensor: str) -> tuple[str, int, int, list[Any]]:
    """(the tensor split, this part's index, the parts, the nodes) for a ``Split`` output or
    a ``SequenceAt`` of a ``SplitToSequence`` into equal parts along the last axis."""
    split, nodes = node, [node]
    if node.op_type == "SequenceAt":
        split = _producer(r, node.input[0]) or node
        index, nodes = r.const(node.input[1]), [node, split]
        if split.op_type != "SplitToSequence" or index is None:
            raise Refused("a sequence of q, k and v other than a SplitToSequence")
        sizes = r.const(split.input[1]) if len(split.input) > 1 else None
        whole = r.shape(split.input[0]) or (0,)
        rank, width = len(whole), whole[-1] or 0
        parts = width // int(sizes.reshape(-1)[0]) if sizes is not None else 0
        part = int(index)
    else:
        rank, parts = len(r.shape(node.input[0]) or ()), len(node.output)
        sizes, part = (
            r.const(node.input[1]) if len(node.input) > 1 else None,
            [*node.output].index(tensor),
        )
    if sizes is not None and len(set(sizes.reshape(-1).tolist())) != 1:
        raise Refused("a projection split in unequal parts")
    if attributes(split).get("axis", 0) % max(rank, 1) != rank - 1 or not parts:
        raise Refused("a projection split along another axis than its features")
    return split.input[0], part % parts, parts, nodes


def heads(r: Reading, tensor: str) -> Heads:
    """q, k or v as the attention reads ``tensor``: followed back to its projection."""
    found = Heads(Projection("", np.zeros((0, 0)), None, "", []))
    nodes: list[onnx.NodeProto] = []
    while (node := _producer(r, tensor)) is not None:
        projection = linear(r, node)
        if projection is not None:
            found.projection, found.nodes = projection, nodes
            return found
        nodes.append(node)
        scale = scaled(r, node)
        rotation = unrotated(r, node) if found.base is None else None
        if scale is not None:
            found.factor, tensor = found.factor * scale[0], scale[2]
            nodes += scale[1]
        elif rotation is not None:
            tensor, found.base = rotation[0], rotation[1]
            nodes += rotation[2]
        elif node.op_type in SHAPING or keeps_whole(r.source, node):  # x[:, 0:INT64_MAX]
            tensor = node.input[0]
            if node.op_type == RESHAPE_OP:
                found.split = reshaped(r.source, node)
        elif node.op_type in ("SequenceAt", "Split") and found.parts == 1:
            tensor, found.part, found.parts, more = _split(r, node, tensor)
            nodes += more
        else:
            raise Refused(f"a {node.op_type} ('{node.name}') between a projection and the scores")
    raise Refused(f"'{tensor}' comes from no projection")


def masked_causally(values: list[np.ndarray]) -> bool:
    """Whether a mask added to the scores is causal (True) or masks nothing, a constant or
    at each probe of the inputs' sizes (a mask built from the run-time length)."""
    try:
        found = {mask_is_causal(value) for value in values}
    except ValueError as exc:
        raise Refused(str(exc)) from None
    if len(found) != 1:
        raise Refused("a mask causal at some lengths and empty at others")
    return found.pop()


@dataclass
class Match:
    """One attention subgraph: its nodes, q/k/v heads, output projection, mask."""

    nodes: list[onnx.NodeProto]
    roles: dict[str, Heads]
    output: Projection
    causal: bool
    factor: float
    head_size: int


def _scores(r: Reading, softmax: onnx.NodeProto) -> tuple[onnx.NodeProto, bool, float, list[Any]]:
    """(the MatMul(q, kᵀ), causal, the scale, the nodes) before a softmax."""
    tensor, causal, factor, nodes = softmax.input[0], False, 1.0, [softmax]
    while (node := _producer(r, tensor)) is not None and node.op_type != "MatMul":
        masks = [t for t in node.input if probed(r.source, t)] if node.op_type == SUM_OP else []
        scale = scaled(r, node)
        built = causal_where(r, node)
        if built is not None:  # the translator's own: Where(lower triangle, scores, −1e9)
            causal, tensor, nodes = True, node.input[1], [*nodes, *built]
        elif len(masks) == 1 and scale is None:
            causal = masked_causally(probed(r.source, masks[0]) or [])
            tensor = next(t for t in node.input if t != masks[0])
        elif scale is not None:
            factor, tensor = factor * scale[0], scale[2]
            nodes += scale[1]
        else:
            raise Refused(f"a {node.op_type} between the scores and the softmax")
        nodes.append(node)
    if node is None:
        raise Refused("no MatMul of queries and keys before the softmax")
    return node, causal, factor, [*nodes, node]


def _mixed(r: Reading, softmax: onnx.NodeProto) -> tuple[onnx.NodeProto, list[Any]]:
    """The MatMul(probabilities, v) after a softmax, through the exporter's NaN guard
    (``Where(IsNaN(p), 0, p)``)."""
    probs, nodes = softmax.output[0], []
    readers = r.source.readers.get(probs, [])
    guard = sorted(readers, key=lambda n: n.op_type)
    if [n.op_type for n in guard] == ["IsNaN", "Where"] and guard[1].input[0] == guard[0].output[0]:
        nodes, probs = guard, guard[1].output[0]
    mixed = r.reader(probs)
    if mixed is None or mixed.op_type != "MatMul" or mixed.input[0] != probs:
        raise Refused("the probabilities do not multiply the values alone")
    return mixed, [*nodes, mixed]


def _output(r: Reading, context: str) -> tuple[Projection, list[Any]]:
    """The output projection the context reaches through reshapes and transposes."""
    nodes: list[onnx.NodeProto] = []
    while (node := r.reader(context)) is not None:
        ends: list[onnx.NodeProto | None] = [node]
        if node.op_type == "MatMul":
            ends = [e for e in (r.reader(node.output[0]), node) if e is not None]
        elif node.op_type == RESHAPE_OP:
            gemm = r.reader(node.output[0])
            ends = [r.reader(gemm.output[0])] if gemm is not None and gemm.op_type == "Gemm" else []
        for end in (e for e in ends if e is not None):
            found = linear(r, end)
            if found is not None and found.source == node.input[0]:
                return found, nodes
        if node.op_type not in SHAPING:
            break
        nodes.append(node)
        context = node.output[0]
    raise Refused("the context reaches no output projection through reshapes alone")


def match(r: Reading, softmax: onnx.NodeProto) -> Match:
    """The attention around ``softmax`` (see the module doc); refused if it is not one."""
    rank = len(r.shape(softmax.input[0]) or ())
    if attributes(softmax).get("axis", -1) % max(rank, 1) != rank - 1 or rank != 4:
        raise Refused("a softmax over another axis than the keys'")
    scores, causal, factor, nodes = _scores(r, softmax)
    mixed, after = _mixed(r, softmax)
    roles = {"query": heads(r, scores.input[0]), "key": heads(r, scores.input[1])}
    roles["value"] = heads(r, mixed.input[1])
    output, shaping = _output(r, mixed.output[0])
    nodes += after + shaping + output.nodes
    for role in roles.values():
        nodes += role.nodes + role.projection.nodes
    size = (r.shape(scores.input[0]) or (0,))[-1] or (roles["query"].split or (0,))[-1] or 0
    unique = list({id(n): n for n in nodes}.values())
    return Match(unique, roles, output, causal, factor, size)


def attends(r: Reading, softmax: onnx.NodeProto) -> bool:
    """Whether a softmax's scores come from a MatMul of two run-time tensors (through
    additions and scaling by constants): attention, read whole or listed with the reason."""
    node = _producer(r, softmax.input[0])
    while node is not None and node.op_type in (SUM_OP, "Mul", "Div", "Where"):
        data = [t for t in node.input if scalar(r, t) is None and probed(r.source, t) is None]
        node = _producer(r, data[0]) if len(data) == 1 else None
    return (
        node is not None
        and node.op_type == "MatMul"
        and all(r.const(t) is None for t in node.input)
    )
