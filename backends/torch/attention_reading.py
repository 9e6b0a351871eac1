"""Reading attention whose form Hugging Face models add to the q/k/v/o projections that
``backends.torch.attention`` reads: one projection to q, k and v together, split in three
(GPT-2's ``c_attn``), and rotary position embeddings turning the query and key heads
(Llama's ``apply_rotary_pos_emb``: ``x·cos + rotate_half(x)·sin``, cos and sin tables
computed from no input), recognised by the tables' values.
"""

from __future__ import annotations

import math
from typing import Any

from backends.torch.attention import (
    ATTENDING,
    SCALING,
    SHAPING,
    _attended,
    _factor,
    multihead,
)
from backends.torch.importing import (
    FUNCTIONS,
    MODULES,
    SHAPES,
    ModuleCall,
    Reading,
    Refused,
    arg,
    op_name,
)

# Importing one projection to q, k and v together, split in three (GPT-2's ``c_attn``, a
# transformers Conv1D: ``addmm`` with its weight stored (in, out)), scaled_dot_product_attention,
# and an output projection (``c_proj``), in a module of any class → MultiHeadAttention, whose
# PyTorch build is nn.MultiheadAttention: ``in_proj_weight`` is the fused projection's own.
FUSING = {"addmm", "split", "split_with_sizes", "getitem"}


def fused_qkv_shaped(nodes: list[Any]) -> int:
    """All the nodes when they are two projections (Linear or Conv1D), one split and one
    scaled_dot_product_attention, with only reshaping and scaling between; else 0."""
    ops = [op_name(n) for n in nodes]
    projections = ops.count("addmm") + ops.count("linear")
    splits = ops.count("split") + ops.count("split_with_sizes")
    attends = ops.count("scaled_dot_product_attention")
    allowed = set(ops) <= SHAPING | SCALING | ATTENDING | FUSING
    return len(nodes) if projections == splits + 1 == attends + 1 == 2 and allowed else 0


SHAPES.register("FusedQkvAttention")(fused_qkv_shaped)


def _projected(node: Any) -> tuple[Any, Any, Any, bool]:
    """A Linear's or Conv1D's (input, weight, bias, stored (in, out)) from its output (through
    the view after a Conv1D's ``addmm``)."""
    while op_name(node) in SHAPING:
        node = node.args[0]
    if op_name(node) == "linear":
        return node.args[0], node.args[1], arg(node, 2, "bias"), False
    if op_name(node) != "addmm":
        raise Refused("a projection is neither a Linear nor a Conv1D")
    flat = node.args[1]
    return (flat.args[0] if op_name(flat) in SHAPING else flat), node.args[2], node.args[0], True


def _split_part(node: Any) -> Any:
    """The ``getitem`` of a split a head view comes from (through reshaping and scaling)."""
    while op_name(node) in SHAPING or (op_name(node) in SCALING and _factor(node) is not None):
        node = node.args[0]
    if op_name(node) != "getitem":
        raise Refused("q, k or v is not a part of one split projection")
    return node


def read_fused_qkv_attention(r: Reading, call: ModuleCall) -> None:
    """c_attn → split(q, k, v) → scaled_dot_product_attention → c_proj → MultiHeadAttention(
    num_heads, key_dim, causal) of the projection's input, where nn.MultiheadAttention
    expresses the sizes (q, k and v as wide as the input, so is the output)."""
    heads_q, heads_k, heads_v, causal, scale, bias = _attended(r, call)
    if bias is not None or not math.isclose(
        scale, Reading.shape(heads_q)[-1] ** -0.5, rel_tol=1e-6
    ):
        raise Refused(f"scores scaled by {scale:.6g}, not 1/sqrt(head size), or biased")
    parts = [_split_part(n) for n in (heads_q, heads_k, heads_v)]
    if [p.args[1] for p in parts] != [0, 1, 2] or len({p.args[0] for p in parts}) != 1:
        raise Refused("q, k and v are not the fused projection's three parts, in order")
    source, weight, bias, stored = _projected(parts[0].args[0].args[0])
    inside = set(call.nodes)
    output = [n for n in call.nodes if set(n.users) - inside][-1]
    _, out_weight, out_bias, _ = _projected(_through_dropout(output))
    _, heads, _, size = Reading.shape(heads_q)
    width = Reading.shape(source)[-1]
    if (
        heads * size != width
        or Reading.shape(output)[-1] != width
        or (bias is None) != (out_bias is None)
    ):
        raise Refused("sizes or biases nn.MultiheadAttention does not express")
    layer = multihead(heads, size, width, width, width)
    layer |= {"use_bias": bias is not None, "causal": causal}
    name = r.add(call, layer, [source], output)
    tensors = {"in_proj_weight": weight, "out_proj.weight": out_weight}
    tensors |= {"in_proj_bias": bias, "out_proj.bias": out_bias} if bias is not None else {}
    r.joined[name] = {role: [r.key(node)] for role, node in tensors.items()}
    if stored:
        r.transposed[name] = {"in_proj_weight", "out_proj.weight"}


def _through_dropout(node: Any) -> Any:
    """The node a dropout (the identity at inference) reads, else the node."""
    return node.args[0] if op_name(node) == "dropout" else node


MODULES.register("FusedQkvAttention")(read_fused_qkv_attention)


# Importing: nn.MultiheadAttention (batch first, no mask but the causal one model.py writes)
# → MultiHeadAttention: self-attention (one input), ``[query, value]`` with the key the value,
# or ``[query, value, key]``; key and value as wide as the query (one packed
# ``in_proj_weight``) or not (``kdim``/``vdim``: ``q/k/v_proj_weight``, the IR's names too).
# Its class has an importer, so no operation shape (``QkvoAttention``) claims its calls.
# The head size is the last size of the per-head view PyTorch makes of the projected query.
MASK_TO_FLOAT = ("zeros_like", "masked_fill_", "masked_fill")


def _head_dim(call: ModuleCall) -> int:
    """The size of each head: PyTorch views each projection (a part of the packed one, or
    the query's own) as (steps, batch·heads, head)."""
    for node in call.nodes:
        projected = op_name(node.args[0]) in ("select", "linear") if node.args else False
        if op_name(node) == "view" and projected and len(Reading.shape(node)) == 3:
            return Reading.shape(node)[-1]
    raise Refused("no per-head view of the projections inside (a changed forward?)")


def _roles(call: ModuleCall) -> list[Any]:
    """The layer's inputs in Keras's order, from the batch-first transposes PyTorch opens
    with (one: query is key is value; two: query, key = value; three: query, key, value)."""
    nodes = [n for n in call.nodes if op_name(n) not in MASK_TO_FLOAT]  # a bool mask made float
    sources = []
    for node in nodes[:3]:
        if op_name(node) != "transpose":
            break
        sources.append(node.args[0])
    if not sources:
        raise Refused("batch_first=False is not recognised")
    query, key, value = sources[0], sources[min(1, len(sources) - 1)], sources[-1]
    if len(sources) == 1:
        return [query]
    return [query, value] if len(sources) == 2 else [query, value, key]


@MODULES.register("MultiheadAttention")
def read_multihead_attention(r: Reading, call: ModuleCall) -> None:
    """nn.MultiheadAttention(e, heads, kdim, vdim, batch_first=True) → MultiHeadAttention(
    heads, e / heads)."""
    inside = set(call.nodes)
    reads = [a for n in call.nodes for a in n.all_input_nodes if a not in inside]
    outside = list(dict.fromkeys(a for a in reads if a.op != "placeholder" or a in r.refs))
    masks = [a for a in outside if _causal_mask(a)]
    for mask in masks:  # model.py's causal_mask(query, key): ones(...).triu(1)
        r.claim(r.call_of(mask))
        r.claim(r.call_of(mask.args[0]))
    inputs = _roles(call)
    if not set(outside) - set(masks) <= set(inputs):
        raise Refused("a mask other than model.py's causal one is not recognised")
    weight = Reading.shape(call.op("linear").args[1])
    packed = weight[0] == 3 * weight[1]
    embed, head = weight[0] // 3 if packed else weight[0], _head_dim(call)
    outputs = [n for n in call.nodes if set(n.users) - inside]
    layer = multihead(embed // head, head, embed, embed, embed)  # values and output: e wide
    layer["use_bias"] = arg(call.op("linear"), 2, "bias") is not None
    layer["causal"] = bool(masks)
    r.add(call, layer, inputs, outputs[-1])


@FUNCTIONS.register("Ones", "Triu")
def read_causal_mask(r: Reading, call: ModuleCall) -> None:
    """``torch.ones(...).triu(1)`` read by nn.MultiheadAttention calls only: model.py's
    ``causal_mask``, which those calls take in (``causal: true``); no layer of its own."""
    node = call.nodes[0]
    mask = node if op_name(node) == "triu" else r.only_user(node)
    attended = mask is not None and all(
        r.call_of(user).cls == "MultiheadAttention" for user in mask.users
    )
    if not (attended and _causal_mask(mask)):
        raise Refused("a tensor made in forward other than nn.MultiheadAttention's causal mask")


def _causal_mask(node: Any) -> bool:
    """Whether ``node`` is Keras's causal mask as model.py makes it: ``ones(...).triu(1)``."""
    return (
        op_name(node) == "triu"
        and op_name(node.args[0]) == "ones"
        and arg(node, 1, "diagonal", 0) == 1
    )
