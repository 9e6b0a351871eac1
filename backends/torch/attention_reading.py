"""Reading attention whose form Hugging Face models add to the q/k/v/o projections that
``backends.torch.attention`` reads: one projection to q, k and v together, split in three
(GPT-2's ``c_attn``), and rotary position embeddings turning the query and key heads
(Llama's ``apply_rotary_pos_emb``: ``x·cos + rotate_half(x)·sin``, cos and sin tables
computed from no input), recognised by the tables' values.
"""

from __future__ import annotations

from typing import Any

from backends.torch.attention import (
    ATTENDING,
    SCALING,
    SHAPING,
    _attended,
    _factor,
    multihead,
)
from backends.torch.importing import MODULES, SHAPES, ModuleCall, Reading, Refused, arg, op_name

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
    heads_q, heads_k, heads_v, causal = _attended(r, call)
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
