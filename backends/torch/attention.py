"""Attention: MultiHeadAttention, GroupQueryAttention and a learned PositionEmbedding.

Inputs arrive in Keras's call order, ``[query, value]`` or ``[query, value, key]``; one input
is self-attention. Keras scales the query by ``1 / sqrt(key_dim)`` (``head_dim`` for grouped
attention), masks future positions when ``causal`` (position ``i`` sees ``j <= i``, counted
from the first step of both sequences), and applies dropout to the attention weights only
when training.

MultiHeadAttention is PyTorch's own ``nn.MultiheadAttention`` (batch first, ``kdim``/``vdim``
for key and value inputs of other widths, called on (query, key, value) with
``need_weights=False`` and, when causal, Keras's mask; its output taken as ``[0]``) whenever
that expresses the sizes exactly (``translator.ops.attention.torch_native``): heads of
``query_features / num_heads``, output as wide as the query. Other sizes, and grouped-query
attention, are exact custom modules with one ``nn.Linear`` per role (``query``, ``key``,
``value``, ``output``) whose weights are Keras's kernels flattened over (heads, head size)
and transposed. The modules are the standalone ones (``backends/torch/standalone/attention.py``)
that ``export`` copies into ``model.py``; the descriptions here derive their arguments from
the IR.
"""

from __future__ import annotations

import math
from typing import Any, NamedTuple

import torch

from backends.torch import program
from backends.torch.importing import (
    MODULES,
    SHAPES,
    ModuleCall,
    Reading,
    Refused,
    arg,
    op_name,
)
from backends.torch.model import describes
from backends.torch.standalone.assemble import Call, Description, Steps, call
from backends.torch.standalone.describe import arguments
from translator.ir import Node
from translator.ops.attention import beyond_keras, mha_dims, roles, torch_native, uniform


def _flags(node: Node) -> dict[str, Any]:
    """The keyword arguments every attention module takes, from the node."""
    return arguments(node, "dropout", "use_bias", "causal")


@describes("MultiHeadAttention")
def describe_multi_head_attention(node: Node) -> Description:
    """MultiHeadAttention(num_heads, key_dim, value_dim=None, output_shape=None, dropout=0,
    use_bias=True, causal=False, <role>_bias=None, scale=None) → ``nn.MultiheadAttention``
    (batch first, on (query, key, value), output ``[0]``; causal: Keras's mask) where
    PyTorch's layer fits the sizes and flags, else the custom ``MultiHeadAttention``."""
    d = mha_dims(node)
    if torch_native(d) and uniform(node):
        return Steps(native_attention(node, d), take="output", feed=_feed(node))
    features = (d["dq"], d["dv"], d["dk"])
    sizes = {"key_dim": d["kd"], "value_dim": d["vd"], "output_shape": d["out"]}
    return call(
        "MultiHeadAttention", features, d["h"], **sizes, **_flags(node), **beyond_keras(node)
    )


def native_attention(node: Node, d: dict[str, int]) -> Call:
    """``nn.MultiheadAttention(embed_dim, num_heads, ...)``, its defaults left out; kdim and
    vdim only for key and value inputs of other widths than the query's."""
    options: dict[str, Any] = {"dropout": node.args["dropout"], "bias": node.args["use_bias"]}
    options = {k: v for k, v in options.items() if v != {"dropout": 0.0, "bias": True}[k]}
    if (d["dk"], d["dv"]) != (d["dq"], d["dq"]):
        options |= {"kdim": d["dk"], "vdim": d["dv"]}
    return call("nn.MultiheadAttention", d["dq"], d["h"], **options, batch_first=True)


def _feed(node: Node) -> str:
    return "causal attention" if node.args["causal"] else "attention"


@describes("GroupQueryAttention")
def describe_group_query_attention(node: Node) -> Call:
    """GroupQueryAttention(head_dim, num_query_heads, num_key_value_heads, dropout=0,
    use_bias=True, causal=False, rope_max_wavelength=None) → ``GroupQueryAttention``."""
    features = tuple(shape[1] for shape in roles(node))  # query, value, key
    heads = arguments(node, "head_dim", "num_query_heads", "num_key_value_heads")
    return call("GroupQueryAttention", features, **heads, **_flags(node), **_rotary(node))


def _rotary(node: Node) -> dict[str, Any]:
    """``rope_max_wavelength`` where the spec sets it (model.py names it only then)."""
    wavelength = node.args["rope_max_wavelength"]
    return {} if wavelength is None else {"rope_max_wavelength": wavelength}


@describes("PositionEmbedding")
def describe_position_embedding(node: Node) -> Call:
    """PositionEmbedding(sequence_length) → ``PositionEmbedding``."""
    return call("PositionEmbedding", node.args["sequence_length"], node.input_shape[1])


# Importing q/k/v/o projections (Hugging Face's style): a module of any class whose
# operations are four Linear calls, one scaled_dot_product_attention and the views and
# transposes between them → MultiHeadAttention (causal with ``is_causal``). The heads and
# their size are those of the query the attention reads; the weights are the four Linears'
# own, packed for nn.MultiheadAttention where the IR builds that.
# "expand" (then "reshape") repeats grouped key/value heads, as Llama's repeat_kv does.
SHAPING = {
    "view",
    "reshape",
    "transpose",
    "permute",
    "contiguous",
    "clone",
    "unsqueeze",
    "expand",
    "flatten",
}
SCALING = {"div", "mul"}  # by a number: the 1/sqrt(head size) of eager attention
ATTENDING = {"linear", "scaled_dot_product_attention", "dropout", "matmul", "softmax"}
ROTATING = {"slice", "neg", "cat", "add", "mul"}  # rotary embeddings (``program.unrotated``)
MASKING = {"where"}  # an attention bias under a mask open everywhere (T5's; ``_bias``)


def qkvo_shaped(nodes: list[Any]) -> bool:
    """Four projections around one attention (scaled_dot_product_attention, or two matmuls
    around a softmax), with only reshaping and scaling between them."""
    ops = [op_name(n) for n in nodes]
    fused = ops.count("scaled_dot_product_attention") == 1
    eager = ops.count("matmul") == 2 and ops.count("softmax") == 1
    allowed = SHAPING | SCALING | ATTENDING | ROTATING | MASKING
    return ops.count("linear") == 4 and fused != eager and set(ops) <= allowed


def qkvo_prefix(nodes: list[Any]) -> int:
    """How many of the nodes, from the first through the fourth Linear, are q/k/v/o
    attention (``qkvo_shaped``); 0 where they are not. What follows is read as layers of its
    own (BERT's attention module ends with its residual ``+`` and LayerNorm)."""
    linears = [i for i, node in enumerate(nodes) if op_name(node) == "linear"]
    end = linears[3] + 1 if len(linears) >= 4 else 0
    return end if end and qkvo_shaped(nodes[:end]) else 0


SHAPES.register("QkvoAttention")(qkvo_prefix)


def _projection(r: Reading, node: Any) -> tuple[Any, float | None, float]:
    """The Linear a tensor comes from, through views, transposes, scaling by a number and
    rotary embeddings; the rotary embeddings' base (None: not rotated); and the product of
    the numbers it was scaled by on the way (Whisper scales the query before the attention)."""
    base, factor = None, 1.0
    while True:
        rotation = program.unrotated(r, node)
        found = _factor(node) if op_name(node) in SCALING else None
        if rotation is not None and base is None:
            node, base = rotation
        elif op_name(node) in SHAPING or found is not None:
            node, factor = node.args[0], factor if found is None else factor * found
        else:
            break
    if op_name(node) != "linear":
        raise Refused("a projection is not a Linear's output")
    return node, base, factor


def _factor(node: Any) -> float | None:
    """What a ``div`` or ``mul`` by a number multiplies by; None for one by a tensor."""
    number = node.args[1]
    if not isinstance(number, int | float):
        return None
    return 1.0 / number if op_name(node) == "div" else float(number)


class Attended(NamedTuple):
    """What an attention reads: its query, key and value heads, whether it is causal, what
    it multiplies the scores q·kᵀ by, and the attention bias added to them (None: none)."""

    query: Any
    key: Any
    value: Any
    causal: bool
    scale: float
    bias: Any = None


def _attended(r: Reading, call: ModuleCall) -> Attended:
    """The (query, key, value) heads the attention reads, whether it is causal, and what it
    multiplies the scores q·kᵀ by: from scaled_dot_product_attention (its mask, if any, one
    the program makes from the static shapes alone; its ``scale``, else 1/sqrt(size)), or
    from eager attention (the numbers between the scores and the softmax)."""
    fused = [n for n in call.nodes if op_name(n) == "scaled_dot_product_attention"]
    if fused:
        mask, scale = arg(fused[0], 3, "attn_mask"), arg(fused[0], 6, "scale")
        size = Reading.shape(fused[0].args[0])[-1]
        bias = None if mask is None or r.constant(mask) is not None else _bias(r, mask)
        causal = mask is not None and bias is None and program.masked_causally(r, mask)
        causal = causal or bool(arg(fused[0], 5, "is_causal", False))
        scale = size**-0.5 if scale is None else float(scale)
        query, key, value = fused[0].args[:3]
        return Attended(query, key, value, causal, scale, bias)
    scores, mixed = (n for n in call.nodes if op_name(n) == "matmul")
    node, scale = call.op("softmax").args[0], 1.0
    while node is not scores:
        factor = _factor(node) if op_name(node) in SCALING else None
        if factor is None:
            raise Refused("scores reach the softmax through more than a scaling by a number")
        node, scale = node.args[0], scale * factor
    return Attended(scores.args[0], scores.args[1], mixed.args[1], False, scale)


def _bias(r: Reading, mask: Any) -> Any:
    """The value a layer made that an attention mask adds to the scores (T5's position
    bias), through views and ``where(open, bias, minimum)`` with a constant mask open
    everywhere (T5's padding mask, made from the static shapes)."""
    node = mask
    while node not in r.refs:
        if op_name(node) == "where":
            open_ = r.constant(node.args[0])
            if open_ is None or open_.dtype != torch.bool or not bool(open_.all()):
                raise Refused("an attention mask an input reaches (the spec's is causal or none)")
            node = node.args[1]
        elif op_name(node) in SHAPING:
            node = node.args[0]
        else:
            raise Refused("an attention mask neither constant nor a layer's attention bias")
    return node


def _joined(r: Reading, projections: dict[str, Any]) -> dict[str, list[str]]:
    """Each IR tensor name either PyTorch layout gives → the Linears' tensors it holds."""
    weights = {role: r.key(p.args[1]) for role, p in projections.items()}
    biases = {role: r.key(arg(p, 2, "bias")) for role, p in projections.items()}
    packed = [weights[role] for role in ("query", "key", "value")]
    joined = {"in_proj_weight": packed, "out_proj.weight": [weights["output"]]}
    joined |= {f"{role}.weight": [key] for role, key in weights.items()}
    joined |= {f"{role}.bias": [key] for role, key in biases.items() if key}  # '': none
    if all(biases.values()):
        joined["in_proj_bias"] = [biases[role] for role in ("query", "key", "value")]
        joined |= {"out_proj.bias": [biases["output"]]}
    return joined


def _grouped(
    heads: int, size: int, key: Any, value: Any, rotated: bool = False
) -> dict[str, Any] | None:
    """GroupQueryAttention's arguments when the key and value projections give fewer heads
    than the query's (repeated to them by ``enable_gqa`` or ``expand``), or when the heads
    are ``rotated`` (only GroupQueryAttention rotates); else None."""
    kv_heads = Reading.shape(key)[-1] // size
    if kv_heads == heads and not rotated:
        return None
    if heads % kv_heads or Reading.shape(value)[-1] != kv_heads * size:
        raise Refused(f"{kv_heads} key/value heads for {heads} query heads, not a grouping")
    layer = {"type": "GroupQueryAttention", "head_dim": size, "num_query_heads": heads}
    return {**layer, "num_key_value_heads": kv_heads}


def read_qkvo_attention(r: Reading, call: ModuleCall) -> None:
    """q_proj, k_proj, v_proj → scaled_dot_product_attention (or softmax(q·kᵀ·s)·v) →
    o_proj, in a module of any class → MultiHeadAttention(num_heads, key_dim, value_dim,
    use_bias, <role>_bias, scale, causal), or GroupQueryAttention(head_dim, num_query_heads,
    num_key_value_heads, use_bias, causal, rope_max_wavelength) where k and v have fewer
    heads or the query and key heads are rotated (Llama's attention)."""
    heads_q, heads_k, heads_v, causal, scale, bias = _attended(r, call)
    (query, base, by_q), (key, key_base, by_k), (value, value_base, by_v) = (
        _projection(r, n) for n in (heads_q, heads_k, heads_v)
    )
    if base != key_base or value_base is not None or by_v != 1.0:
        raise Refused("rotary embeddings or scaling on other heads than the query's and key's")
    output = next(n for n in call.nodes if op_name(n) == "linear" and n not in (query, key, value))
    _, heads, _, size = Reading.shape(heads_q)
    roles = {"query": query, "key": key, "value": value, "output": output}
    width = Reading.shape(output)[-1]
    grouped = _grouped(heads, size, key, value, base is not None)
    widths = (Reading.shape(value)[-1], width, Reading.shape(query.args[0])[-1])
    layer = grouped or multihead(heads, size, *widths)
    layer |= _biases_and_scale(roles, scale * by_q * by_k, size, grouped is not None)
    layer["causal"] = causal
    if base is not None:
        layer["rope_max_wavelength"] = base
    sources = list(dict.fromkeys(p.args[0] for p in (query, value, key)))
    if bias is not None:  # the last input, added to the scores
        expected = (heads, Reading.shape(heads_q)[2], Reading.shape(heads_k)[2])
        floating = bias.meta["val"].dtype.is_floating_point  # a boolean mask is no bias
        if grouped is not None or Reading.shape(bias)[1:] != expected or not floating:
            raise Refused(f"an attention mask not a float bias {expected}, or grouped heads")
        layer["attention_bias"], sources = True, [*sources, bias]
    name = r.add(call, layer, sources, output)
    r.joined[name] = _joined(r, roles)


def _biases_and_scale(
    roles: dict[str, Any], scale: float, size: int, grouped: bool
) -> dict[str, Any]:
    """``use_bias`` (any projection's), ``<role>_bias: false`` for a projection without
    one among others with (Whisper's k_proj), and ``scale`` where the scores are not scaled
    by 1/sqrt(size) (T5: 1); GroupQueryAttention expresses neither."""
    biased = {role: arg(p, 2, "bias") is not None for role, p in roles.items()}
    mixed = len(set(biased.values())) > 1
    own_scale = not math.isclose(scale, size**-0.5, rel_tol=1e-6)
    if grouped and (mixed or own_scale):
        raise Refused("grouped-query attention with mixed biases or scores not scaled 1/sqrt(d)")
    found: dict[str, Any] = {"use_bias": any(biased.values())}
    found |= {f"{role}_bias": False for role, has in biased.items() if mixed and not has}
    return found | ({"scale": scale} if own_scale else {})


def multihead(heads: int, size: int, values: int, width: int, query: int) -> dict[str, Any]:
    """MultiHeadAttention's arguments from the projections' widths (``values`` of the value
    projection, ``width`` of the output, ``query`` of the query's input), the value size and
    output width where not default."""
    layer: dict[str, Any] = {"type": "MultiHeadAttention", "num_heads": heads, "key_dim": size}
    if values // heads != size:  # the spec's default: key_dim
        layer["value_dim"] = values // heads
    if width != query:  # the spec's default: the query's width
        layer["output_shape"] = width
    return layer


MODULES.register("QkvoAttention")(read_qkvo_attention)
