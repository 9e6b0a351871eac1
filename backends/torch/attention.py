"""Attention: MultiHeadAttention, GroupQueryAttention and a learned PositionEmbedding.

Inputs arrive in Keras's call order, ``[query, value]`` or ``[query, value, key]``; one input
is self-attention. Keras scales the query by ``1 / sqrt(key_dim)`` (``head_dim`` for grouped
attention), masks future positions when ``causal`` (position ``i`` sees ``j <= i``, counted
from the first step of both sequences), and applies dropout to the attention weights only
when training.

MultiHeadAttention is PyTorch's own ``nn.MultiheadAttention`` (batch first) whenever that
expresses the sizes exactly (``translator.ops.attention.torch_native``): heads of
``query_features / num_heads``, output as wide as the query. Other sizes, and grouped-query
attention, are exact custom modules with one ``nn.Linear`` per role (``query``, ``key``,
``value``, ``output``) whose weights are Keras's kernels flattened over (heads, head size)
and transposed. The modules are the standalone ones (``backends/torch/standalone/attention.py``)
that ``export`` copies into ``model.py``; the descriptions here derive their arguments from
the IR.
"""

from __future__ import annotations

from typing import Any

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
from backends.torch.standalone.assemble import Call, call
from backends.torch.standalone.describe import arguments
from translator.ir import Node
from translator.ops.attention import mha_dims, roles, torch_native


def _flags(node: Node) -> dict[str, Any]:
    """The keyword arguments every attention module takes, from the node."""
    return arguments(node, "dropout", "use_bias", "causal")


@describes("MultiHeadAttention")
def describe_multi_head_attention(node: Node) -> Call:
    """MultiHeadAttention(num_heads, key_dim, value_dim=None, output_shape=None, dropout=0,
    use_bias=True, causal=False) → ``NativeMultiHeadAttention`` when PyTorch's layer fits the
    sizes, else the custom ``MultiHeadAttention``."""
    d = mha_dims(node)
    if torch_native(d):
        sizes = {"kdim": d["dk"], "vdim": d["dv"]}
        return call("NativeMultiHeadAttention", d["dq"], d["h"], **sizes, **_flags(node))
    features = (d["dq"], d["dv"], d["dk"])
    sizes = {"key_dim": d["kd"], "value_dim": d["vd"], "output_shape": d["out"]}
    return call("MultiHeadAttention", features, d["h"], **sizes, **_flags(node))


@describes("GroupQueryAttention")
def describe_group_query_attention(node: Node) -> Call:
    """GroupQueryAttention(head_dim, num_query_heads, num_key_value_heads, dropout=0,
    use_bias=True, causal=False) → ``GroupQueryAttention``."""
    features = tuple(shape[1] for shape in roles(node))  # query, value, key
    heads = arguments(node, "head_dim", "num_query_heads", "num_key_value_heads")
    return call("GroupQueryAttention", features, **heads, **_flags(node))


@describes("PositionEmbedding")
def describe_position_embedding(node: Node) -> Call:
    """PositionEmbedding(sequence_length) → ``PositionEmbedding``."""
    return call("PositionEmbedding", node.args["sequence_length"], node.input_shape[1])


# Importing: nn.MultiheadAttention (batch first, key and value as wide as the query, no mask)
# → MultiHeadAttention, self-attention (one input) or ``[query, value]`` with the key the value.
# The head size is the last size of the per-head view PyTorch makes of the projected query.


def _head_dim(call: ModuleCall) -> int:
    """The size of each head: PyTorch views each projection as (steps, batch·heads, head)."""
    for node in call.nodes:
        if op_name(node) == "view" and op_name(node.args[0]) == "select":
            return Reading.shape(node)[-1]
    raise Refused("no per-head view of the projections inside (a changed forward?)")


@MODULES.register("MultiheadAttention")
def read_multihead_attention(r: Reading, call: ModuleCall) -> None:
    """nn.MultiheadAttention(e, heads, batch_first=True) → MultiHeadAttention(heads, e / heads)."""
    inside = set(call.nodes)
    reads = [a for n in call.nodes for a in n.all_input_nodes if a not in inside]
    inputs = list(dict.fromkeys(a for a in reads if a.op != "placeholder" or a in r.refs))
    first = call.nodes[0]
    if op_name(first) != "transpose" or len(inputs) > 2:
        raise Refused("batch_first=False, a mask or a key other than the value is not recognised")
    projection = call.op("linear")
    if Reading.shape(projection.args[1])[0] != 3 * Reading.shape(projection.args[1])[1]:
        raise Refused("key or value widths other than the query's are not recognised")
    embed, head = Reading.shape(projection.args[1])[1], _head_dim(call)
    outputs = [n for n in call.nodes if set(n.users) - inside]
    layer = {"type": "MultiHeadAttention", "num_heads": embed // head, "key_dim": head}
    layer["use_bias"] = arg(projection, 2, "bias") is not None
    r.add(call, layer, inputs, outputs[-1])


# Importing q/k/v/o projections (Hugging Face's style): a module of any class whose
# operations are four Linear calls, one scaled_dot_product_attention and the views and
# transposes between them → MultiHeadAttention (causal with ``is_causal``). The heads and
# their size are those of the query the attention reads; the weights are the four Linears'
# own, packed for nn.MultiheadAttention where the IR builds that.
SHAPING = {"view", "reshape", "transpose", "permute", "contiguous", "clone", "unsqueeze"}
ATTENDING = {"linear", "scaled_dot_product_attention", "dropout"}


def qkvo_shaped(nodes: list[Any]) -> bool:
    """Four projections around one attention, with only reshaping between them."""
    ops = [op_name(n) for n in nodes]
    single = ops.count("scaled_dot_product_attention") == 1
    return ops.count("linear") == 4 and single and set(ops) <= SHAPING | ATTENDING


SHAPES.register("QkvoAttention")(qkvo_shaped)


def _projection(node: Any) -> Any:
    """The Linear a tensor comes from, through views and transposes."""
    while op_name(node) in SHAPING:
        node = node.args[0]
    if op_name(node) != "linear":
        raise Refused("a projection is not a Linear's output")
    return node


def _joined(r: Reading, projections: dict[str, Any]) -> dict[str, list[str]]:
    """Each IR tensor name either PyTorch layout gives → the Linears' tensors it holds."""
    weights = {role: r.key(p.args[1]) for role, p in projections.items()}
    biases = {role: r.key(arg(p, 2, "bias")) for role, p in projections.items()}
    packed = [weights[role] for role in ("query", "key", "value")]
    joined = {"in_proj_weight": packed, "out_proj.weight": [weights["output"]]}
    joined |= {f"{role}.weight": [key] for role, key in weights.items()}
    if all(biases.values()):
        joined["in_proj_bias"] = [biases[role] for role in ("query", "key", "value")]
        joined |= {"out_proj.bias": [biases["output"]]}
        joined |= {f"{role}.bias": [key] for role, key in biases.items()}
    return joined


@MODULES.register("QkvoAttention")
def read_qkvo_attention(r: Reading, call: ModuleCall) -> None:
    """q_proj, k_proj, v_proj → scaled_dot_product_attention → o_proj, in a module of any
    class → MultiHeadAttention(num_heads, key_dim, value_dim, use_bias, causal)."""
    attention = call.op("scaled_dot_product_attention")
    if arg(attention, 3, "attn_mask") is not None:
        raise Refused("an attention mask (the spec's attention is causal or unmasked)")
    query, key, value = (_projection(attention.args[i]) for i in range(3))
    output = next(n for n in call.nodes if op_name(n) == "linear" and n not in (query, key, value))
    (_, heads, _, size), kv_heads = (
        Reading.shape(attention.args[0]),
        Reading.shape(attention.args[1])[1],
    )
    if kv_heads != heads:
        raise Refused(f"{kv_heads} key/value heads for {heads} query heads (grouped heads)")
    roles = {"query": query, "key": key, "value": value, "output": output}
    biased = {arg(p, 2, "bias") is not None for p in roles.values()}
    if len(biased) != 1:
        raise Refused("some projections have a bias and some have none")
    value_size, width = Reading.shape(value)[-1] // heads, Reading.shape(output)[-1]
    layer = {"type": "MultiHeadAttention", "num_heads": heads, "key_dim": size}
    layer |= {"use_bias": biased.pop(), "causal": arg(attention, 5, "is_causal", False)}
    if value_size != size:  # the spec's default: key_dim
        layer["value_dim"] = value_size
    if width != Reading.shape(query.args[0])[-1]:  # the spec's default: the query's width
        layer["output_shape"] = width
    sources = list(dict.fromkeys(p.args[0] for p in (query, value, key)))
    name = r.add(call, layer, sources, output)
    r.joined[name] = _joined(r, roles)
