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

from backends.torch.importing import MODULES, ModuleCall, Reading, Refused, arg, op_name
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
