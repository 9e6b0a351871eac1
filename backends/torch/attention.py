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
that ``export`` copies into ``model.py``; the builders here derive their arguments from the IR.
"""

from __future__ import annotations

from typing import Any

from torch import nn

from backends.torch.model import BUILDERS
from backends.torch.standalone.attention import (
    GroupQueryAttention,
    MultiHeadAttention,
    NativeMultiHeadAttention,
    PositionEmbedding,
)
from backends.torch.standalone.emitters import arguments
from translator.ir import Node
from translator.ops.attention import mha_dims, roles, torch_native


def _flags(node: Node) -> dict[str, Any]:
    """The keyword arguments every attention module takes, from the node."""
    return arguments(node, "dropout", "use_bias", "causal")


@BUILDERS.register("MultiHeadAttention")
def build_multi_head_attention(node: Node) -> nn.Module:
    """MultiHeadAttention(num_heads, key_dim, value_dim=None, output_shape=None, dropout=0,
    use_bias=True, causal=False) → ``NativeMultiHeadAttention`` when PyTorch's layer fits the
    sizes, else the custom ``MultiHeadAttention``."""
    d, more = mha_dims(node), _flags(node)
    if torch_native(d):
        return NativeMultiHeadAttention(d["dq"], d["h"], d["dk"], d["dv"], **more)
    features = (d["dq"], d["dv"], d["dk"])
    return MultiHeadAttention(features, d["h"], d["kd"], d["vd"], d["out"], **more)


@BUILDERS.register("GroupQueryAttention")
def build_group_query_attention(node: Node) -> nn.Module:
    """GroupQueryAttention(head_dim, num_query_heads, num_key_value_heads, dropout=0,
    use_bias=True, causal=False) → ``GroupQueryAttention``."""
    a = node.args
    features = tuple(shape[1] for shape in roles(node))  # query, value, key
    heads = a["head_dim"], a["num_query_heads"], a["num_key_value_heads"]
    return GroupQueryAttention(features, *heads, **_flags(node))


@BUILDERS.register("PositionEmbedding")
def build_position_embedding(node: Node) -> nn.Module:
    """PositionEmbedding(sequence_length) → ``PositionEmbedding``."""
    return PositionEmbedding(node.args["sequence_length"], node.input_shape[1])
