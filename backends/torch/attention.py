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
and transposed.
"""

from __future__ import annotations

import math

import torch
from torch import nn

from backends.torch.model import BUILDERS
from translator.ir import Node
from translator.ops.attention import mha_dims, roles, torch_native


def causal_mask(steps: int, sources: int, device: torch.device) -> torch.Tensor:
    """(steps, sources) booleans, True where Keras's causal mask hides a position (j > i)."""
    return torch.ones(steps, sources, dtype=torch.bool, device=device).triu(1)


def attend(
    query: torch.Tensor,
    key: torch.Tensor,
    value: torch.Tensor,
    scale: float,
    causal: bool,
    dropout: nn.Module,
) -> torch.Tensor:
    """Keras's scaled dot-product attention on (batch, steps, heads, size) projections:
    softmax over the sources of ``(query * scale) · key`` (dropout on those weights, active
    only in training), then the weighted sum of values."""
    scores = torch.einsum("bthd,bshd->bhts", query * scale, key)
    if causal:
        scores = scores.masked_fill(
            causal_mask(scores.shape[2], scores.shape[3], scores.device), -torch.inf
        )
    weights = dropout(torch.softmax(scores, dim=-1))
    return torch.einsum("bhts,bshd->bthd", weights, value)


def roles_of(
    query: torch.Tensor, value: torch.Tensor | None, key: torch.Tensor | None
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Keras's defaults: value is the query (self-attention), key is the value."""
    value = query if value is None else value
    return query, value, value if key is None else key


class NativeMultiHeadAttention(nn.MultiheadAttention):
    """Keras MultiHeadAttention as PyTorch's ``nn.MultiheadAttention`` (batch first), used
    when head size ``query_features / num_heads`` equals key_dim and value_dim and the output
    is as wide as the query. Its scale ``1 / sqrt(head size)`` is Keras's ``1 / sqrt(key_dim)``."""

    def __init__(self, node: Node) -> None:
        dims, a = mha_dims(node), node.args
        super().__init__(
            dims["dq"],
            dims["h"],
            dropout=a["dropout"],
            bias=a["use_bias"],
            kdim=dims["dk"],
            vdim=dims["dv"],
            batch_first=True,
        )
        self.causal = a["causal"]

    def forward(  # type: ignore[override]  (Keras's call order, one output)
        self,
        query: torch.Tensor,
        value: torch.Tensor | None = None,
        key: torch.Tensor | None = None,
    ) -> torch.Tensor:
        query, value, key = roles_of(query, value, key)
        mask = causal_mask(query.shape[1], key.shape[1], query.device) if self.causal else None
        out, _ = super().forward(query, key, value, need_weights=False, attn_mask=mask)
        return out


class CustomAttention(nn.Module):
    """Family base of the exact custom attention modules: ``query``, ``key``, ``value`` and
    ``output`` projections (``nn.Linear``, weight (heads·size, features)) around ``attend``."""

    def __init__(
        self,
        sizes: dict[str, tuple[int, int, int]],
        out: tuple[int, int, int],
        bias: bool,
        causal: bool,
        dropout: float,
    ) -> None:
        """``sizes``: role → (input features, heads, head size); ``out``: (heads, head size,
        output features)."""
        super().__init__()
        for role, (features, heads, size) in sizes.items():
            self.add_module(role, nn.Linear(features, heads * size, bias=bias))
        heads, size, features = out
        self.output = nn.Linear(heads * size, features, bias=bias)
        self.heads = {role: heads for role, (_, heads, _) in sizes.items()}
        self.scale = 1.0 / math.sqrt(sizes["key"][2])
        self.causal = causal
        self.dropout = nn.Dropout(dropout)

    def project(self, role: str, x: torch.Tensor) -> torch.Tensor:
        """(batch, steps, features) → (batch, steps, heads, head size) for ``role``."""
        y = self.get_submodule(role)(x)
        return y.reshape(*y.shape[:2], self.heads[role], -1)

    def heads_of(
        self, query: torch.Tensor, value: torch.Tensor | None, key: torch.Tensor | None
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """The projected (query, key, value) heads; subclasses may repeat key/value heads."""
        query, value, key = roles_of(query, value, key)
        return self.project("query", query), self.project("key", key), self.project("value", value)

    def forward(
        self,
        query: torch.Tensor,
        value: torch.Tensor | None = None,
        key: torch.Tensor | None = None,
    ) -> torch.Tensor:
        q, k, v = self.heads_of(query, value, key)
        heads = attend(q, k, v, self.scale, self.causal, self.dropout)
        return self.output(heads.reshape(*heads.shape[:2], -1))

    def extra_repr(self) -> str:
        return f"heads={self.heads}, causal={self.causal}"


class MultiHeadAttention(CustomAttention):
    """Keras MultiHeadAttention with sizes ``nn.MultiheadAttention`` cannot express (key_dim
    or value_dim other than query_features / num_heads, or another output width)."""

    def __init__(self, node: Node) -> None:
        d, a = mha_dims(node), node.args
        sizes = {
            "query": (d["dq"], d["h"], d["kd"]),
            "key": (d["dk"], d["h"], d["kd"]),
            "value": (d["dv"], d["h"], d["vd"]),
        }
        out = (d["h"], d["vd"], d["out"])
        super().__init__(sizes, out, a["use_bias"], a["causal"], a["dropout"])


class GroupQueryAttention(CustomAttention):
    """Keras GroupedQueryAttention: ``num_query_heads`` query heads share
    ``num_key_value_heads`` key/value heads, each repeated to the query heads in order (key
    head ``j`` serves query heads ``j·r … j·r + r − 1``, Keras's ``ops.repeat`` on the heads
    axis); the output is as wide as the query."""

    def __init__(self, node: Node) -> None:
        (_, dq), (_, dv), (_, dk) = roles(node)
        a = node.args
        hd, hq, hkv = a["head_dim"], a["num_query_heads"], a["num_key_value_heads"]
        sizes = {"query": (dq, hq, hd), "key": (dk, hkv, hd), "value": (dv, hkv, hd)}
        super().__init__(sizes, (hq, hd, dq), a["use_bias"], a["causal"], a["dropout"])
        self.repeats = hq // hkv

    def heads_of(
        self, query: torch.Tensor, value: torch.Tensor | None, key: torch.Tensor | None
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        q, k, v = super().heads_of(query, value, key)
        return q, k.repeat_interleave(self.repeats, dim=2), v.repeat_interleave(self.repeats, dim=2)


class PositionEmbedding(nn.Module):
    """A learned embedding per position (as keras_hub's PositionEmbedding): ``weight``
    (sequence_length, features); the output is its first ``steps`` rows, broadcast to the
    input's shape. Initialized like ``nn.Embedding`` (standard normal)."""

    def __init__(self, sequence_length: int, features: int) -> None:
        super().__init__()
        self.weight = nn.Parameter(torch.randn(sequence_length, features))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        # A copy, not a view: the output must not alias the parameter.
        return self.weight[: x.shape[1]].expand_as(x).contiguous()


@BUILDERS.register("MultiHeadAttention")
def build_multi_head_attention(node: Node) -> nn.Module:
    """MultiHeadAttention(num_heads, key_dim, value_dim=None, output_shape=None, dropout=0,
    use_bias=True, causal=False) → ``NativeMultiHeadAttention`` when PyTorch's layer fits the
    sizes, else the custom ``MultiHeadAttention``."""
    if torch_native(mha_dims(node)):
        return NativeMultiHeadAttention(node)
    return MultiHeadAttention(node)


@BUILDERS.register("GroupQueryAttention")
def build_group_query_attention(node: Node) -> nn.Module:
    """GroupQueryAttention(head_dim, num_query_heads, num_key_value_heads, dropout=0,
    use_bias=True, causal=False) → ``GroupQueryAttention``."""
    return GroupQueryAttention(node)


@BUILDERS.register("PositionEmbedding")
def build_position_embedding(node: Node) -> nn.Module:
    """PositionEmbedding(sequence_length) → ``PositionEmbedding``."""
    return PositionEmbedding(node.args["sequence_length"], node.input_shape[1])
