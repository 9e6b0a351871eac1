"""Standalone PyTorch layers with Keras's semantics: MultiHeadAttention, GroupQueryAttention,
a learned PositionEmbedding and T5's RelativePositionBias.

As in the PyTorch backend (``backends/torch/attention.py``): inputs in Keras's call order
(query, value, key; one input is self-attention), the query scaled by ``1 / sqrt(key_dim)``
(``head_dim`` for grouped attention), future positions masked when ``causal``, dropout on
the attention weights only in training. MultiHeadAttention is a bare
``nn.MultiheadAttention`` when that expresses the sizes exactly (``model.py`` calls it with
``causal_mask`` when causal), else (and for grouped attention) a custom module with one
``nn.Linear`` per role: ``query``, ``key``, ``value``, ``output`` (each with or without a
bias, the scores scaled by ``scale`` where given, and, with ``attention_bias``, the last
input added to the scores: RelativePositionBias's output). Export copies what a
model needs into its ``model.py``; see ``backends/torch/standalone/__init__.py`` for the
rules this file keeps.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn


def causal_mask(query: torch.Tensor, key: torch.Tensor) -> torch.Tensor:
    """(query steps, key steps) booleans, True where Keras's causal mask hides a key from a
    query step (j > i, counted from the first step of both): ``nn.MultiheadAttention``'s
    ``attn_mask``."""
    steps, sources = query.shape[1], key.shape[1]
    return torch.ones(steps, sources, dtype=torch.bool, device=query.device).triu(1)


def attend(
    query: torch.Tensor,
    key: torch.Tensor,
    value: torch.Tensor,
    scale: float,
    causal: bool,
    dropout: float,
    bias: torch.Tensor | None = None,
) -> torch.Tensor:
    """Scaled dot-product attention on (batch, steps, heads, size) projections:
    ``F.scaled_dot_product_attention`` over the heads (its causal mask is Keras's, j <= i
    counted from the first step of both sequences; ``dropout``: the rate in training;
    ``bias``: (batch, heads, query steps, key steps) added to the scores)."""
    if bias is not None and causal:
        hidden = torch.ones(bias.shape[-2:], dtype=torch.bool, device=bias.device).triu(1)
        bias = bias.masked_fill(hidden, float("-inf"))
    heads = F.scaled_dot_product_attention(
        query.transpose(1, 2),
        key.transpose(1, 2),
        value.transpose(1, 2),
        attn_mask=bias,
        dropout_p=dropout,
        is_causal=causal and bias is None,
        scale=scale,
    )
    return heads.transpose(1, 2)


def roles_of(
    query: torch.Tensor, value: torch.Tensor | None, key: torch.Tensor | None
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Keras's defaults: value is the query (self-attention), key is the value."""
    value = query if value is None else value
    return query, value, value if key is None else key


class CustomAttention(nn.Module):
    """Family base of the custom attention modules: ``query``, ``key``, ``value`` and
    ``output`` projections (``nn.Linear``, weight (heads * size, features)) around
    ``attend``. ``sizes``: role → (input features, heads, head size); ``out``: (heads, head
    size, output features); ``bias``: role (and ``output``) → whether it has a bias;
    ``scale``: what the scores are multiplied by (None: 1 / sqrt(key size))."""

    def __init__(
        self,
        sizes: dict[str, tuple[int, int, int]],
        out: tuple[int, int, int],
        bias: dict[str, bool],
        causal: bool,
        dropout: float,
        rope_max_wavelength: float | None = None,
        scale: float | None = None,
        attention_bias: bool = False,
    ) -> None:
        super().__init__()
        # The last input is added to the scores (batch, heads, query steps, key steps).
        self.attention_bias = attention_bias
        self.query = projection(sizes["query"], bias["query"])
        self.key = projection(sizes["key"], bias["key"])
        self.value = projection(sizes["value"], bias["value"])
        heads, size, features = out
        self.output = nn.Linear(heads * size, features, bias=bias["output"])
        self.query_heads, self.key_value_heads = sizes["query"][1], sizes["key"][1]
        # Each key/value head serves this many query heads in a row (grouped attention).
        self.repeats = self.query_heads // self.key_value_heads
        self.scale = 1.0 / math.sqrt(sizes["key"][2]) if scale is None else scale
        self.causal = causal
        self.dropout = dropout
        # Rotary position embeddings of that base on the query and key heads (None: none).
        self.rope_max_wavelength = rope_max_wavelength

    def forward(
        self,
        query: torch.Tensor,
        value: torch.Tensor | None = None,
        key: torch.Tensor | None = None,
        bias: torch.Tensor | None = None,
    ) -> torch.Tensor:
        if self.attention_bias:
            value, key, bias = last_is_bias(value, key, bias)
        query, value, key = roles_of(query, value, key)
        q = split_heads(self.query(query), self.query_heads)
        k = split_heads(self.key(key), self.key_value_heads)
        v = split_heads(self.value(value), self.key_value_heads)
        rope = self.rope_max_wavelength
        if rope is not None:
            q, k = rotated(q, rope), rotated(k, rope)
        if self.repeats > 1:
            k, v = k.repeat_interleave(self.repeats, 2), v.repeat_interleave(self.repeats, 2)
        rate = self.dropout if self.training else 0.0
        heads = attend(q, k, v, self.scale, self.causal, rate, bias)
        return self.output(heads.flatten(2))


def last_is_bias(
    value: torch.Tensor | None, key: torch.Tensor | None, bias: torch.Tensor | None
) -> tuple[torch.Tensor | None, torch.Tensor | None, torch.Tensor | None]:
    """(value, key, bias) from the inputs after the query, of which the last is the bias."""
    if bias is not None:
        return value, key, bias
    if key is not None:
        return value, None, key
    return None, None, value


def projection(sizes: tuple[int, int, int], use_bias: bool) -> nn.Linear:
    """The ``nn.Linear`` of one role: (input features, heads, head size) → heads * size."""
    features, heads, size = sizes
    return nn.Linear(features, heads * size, bias=use_bias)


def split_heads(y: torch.Tensor, heads: int) -> torch.Tensor:
    """(batch, steps, heads * size) → (batch, steps, heads, size)."""
    return y.reshape(y.shape[0], y.shape[1], heads, -1)


class MultiHeadAttention(CustomAttention):
    """Keras MultiHeadAttention with sizes ``nn.MultiheadAttention`` cannot express (key_dim
    or value_dim other than query_features / num_heads, or another output width), a bias on
    some projections only, or another ``scale``."""

    def __init__(
        self,
        features: tuple[int, int, int],
        num_heads: int,
        key_dim: int,
        value_dim: int,
        output_shape: int,
        dropout: float = 0.0,
        use_bias: bool = True,
        causal: bool = False,
        query_bias: bool | None = None,
        key_bias: bool | None = None,
        value_bias: bool | None = None,
        output_bias: bool | None = None,
        scale: float | None = None,
        attention_bias: bool = False,
    ) -> None:
        """``features``: the (query, value, key) inputs' widths; ``<role>_bias``: whether that
        projection has a bias (None: ``use_bias``); ``scale``: of the scores (None: 1 /
        sqrt(key_dim)); ``attention_bias``: the last input is added to the scores."""
        query, value, key = features
        sizes = {
            "query": (query, num_heads, key_dim),
            "key": (key, num_heads, key_dim),
            "value": (value, num_heads, value_dim),
        }
        own = {"query": query_bias, "key": key_bias, "value": value_bias, "output": output_bias}
        bias = {role: use_bias if b is None else b for role, b in own.items()}
        out = (num_heads, value_dim, output_shape)
        super().__init__(sizes, out, bias, causal, dropout, None, scale, attention_bias)


class GroupQueryAttention(CustomAttention):
    """Keras GroupedQueryAttention: ``num_query_heads`` query heads share
    ``num_key_value_heads`` key/value heads, each repeated to the query heads in order; the
    output is as wide as the query."""

    def __init__(
        self,
        features: tuple[int, int, int],
        head_dim: int,
        num_query_heads: int,
        num_key_value_heads: int,
        dropout: float = 0.0,
        use_bias: bool = True,
        causal: bool = False,
        rope_max_wavelength: float | None = None,
    ) -> None:
        """``features``: the (query, value, key) inputs' widths; ``rope_max_wavelength``:
        rotary position embeddings of that base on the query and key heads (None: none)."""
        query, value, key = features
        sizes = {
            "query": (query, num_query_heads, head_dim),
            "key": (key, num_key_value_heads, head_dim),
            "value": (value, num_key_value_heads, head_dim),
        }
        out = (num_query_heads, head_dim, query)
        bias = dict.fromkeys(("query", "key", "value", "output"), use_bias)
        super().__init__(sizes, out, bias, causal, dropout, rope_max_wavelength)


def rotated(x: torch.Tensor, max_wavelength: float) -> torch.Tensor:
    """Rotary position embeddings on (batch, steps, heads, size), as Llama's: feature ``i``
    of the first half pairs with ``i + size/2`` (rotate_half), turned by the angle
    ``position / max_wavelength ** (2i / size)``."""
    size = x.shape[-1]
    half = size // 2
    inverse = 1.0 / max_wavelength ** (torch.arange(0, size, 2, dtype=torch.float32) / size)
    angles = torch.arange(x.shape[1], dtype=torch.float32)[:, None] * inverse[None, :]
    angles = torch.cat([angles, angles], dim=-1)[None, :, None, :]  # (1, steps, 1, size)
    turned = torch.cat([-x[..., half:], x[..., :half]], dim=-1)
    return x * angles.cos() + turned * angles.sin()


class PositionEmbedding(nn.Module):
    """A learned embedding per position (as keras_hub's PositionEmbedding): ``weight``
    (sequence_length, features); the output is its first ``steps`` rows, broadcast to the
    input's shape."""

    def __init__(self, sequence_length: int, features: int) -> None:
        super().__init__()
        self.weight = nn.Parameter(torch.randn(sequence_length, features))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        # A copy, not a view: the output must not alias the parameter.
        return self.weight[: x.shape[1]].expand_as(x).contiguous()


class RelativePositionBias(nn.Module):
    """T5's relative position bias (Hugging Face's ``T5Attention.compute_bias``): ``weight``
    (num_buckets, num_heads) looked up by the bucket of each key's position relative to each
    query's; the output is (batch, heads, steps, steps), the same for every example."""

    def __init__(
        self, num_heads: int, num_buckets: int, max_distance: int, bidirectional: bool
    ) -> None:
        super().__init__()
        self.weight = nn.Parameter(torch.randn(num_buckets, num_heads))
        self.num_buckets, self.max_distance = num_buckets, max_distance
        self.bidirectional = bidirectional

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        positions = torch.arange(x.shape[1], device=x.device)
        relative = positions[None, :] - positions[:, None]  # key j - query i
        bias = self.weight[self.bucket(relative)].permute(2, 0, 1)  # (heads, steps, steps)
        return bias.expand(x.shape[0], -1, -1, -1).contiguous()

    def bucket(self, relative: torch.Tensor) -> torch.Tensor:
        """T5's ``_relative_position_bucket``: exact below half the buckets (of a side),
        logarithmic up to ``max_distance``, the last bucket beyond."""
        buckets, offset = self.num_buckets, torch.zeros_like(relative)
        if self.bidirectional:
            buckets //= 2
            offset = (relative > 0).long() * buckets
            distance = relative.abs()
        else:
            distance = -torch.clamp(relative, max=0)
        exact = buckets // 2
        scaled = torch.log(distance.float() / exact) / math.log(self.max_distance / exact)
        far = exact + (scaled * (buckets - exact)).long()
        far = torch.clamp(far, max=buckets - 1)
        return offset + torch.where(distance < exact, distance, far)
