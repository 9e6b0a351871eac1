"""Standalone PyTorch layers with Keras's semantics: MultiHeadAttention, GroupQueryAttention
and a learned PositionEmbedding.

As in the PyTorch backend (``backends/torch/attention.py``): inputs in Keras's call order
(query, value, key; one input is self-attention), the query scaled by ``1 / sqrt(key_dim)``
(``head_dim`` for grouped attention), future positions masked when ``causal``, dropout on
the attention weights only in training. MultiHeadAttention is ``nn.MultiheadAttention``
when that expresses the sizes exactly, else (and for grouped attention) a custom module with
one ``nn.Linear`` per role: ``query``, ``key``, ``value``, ``output``. Export copies what a
model needs into its ``model.py``; see ``backends/torch/standalone/__init__.py`` for the
rules this file keeps.
"""

from __future__ import annotations

import math

import torch
from torch import nn


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
    """Scaled dot-product attention on (batch, steps, heads, size) projections: softmax over
    the sources of ``(query * scale) . key``, then the weighted sum of values."""
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
    """Keras MultiHeadAttention as ``nn.MultiheadAttention`` (batch first): heads of
    ``embed_dim / num_heads`` features, output as wide as the query; its scale
    ``1 / sqrt(head size)`` is Keras's ``1 / sqrt(key_dim)``."""

    def __init__(
        self,
        embed_dim: int,
        num_heads: int,
        kdim: int,
        vdim: int,
        dropout: float = 0.0,
        use_bias: bool = True,
        causal: bool = False,
    ) -> None:
        super().__init__(
            embed_dim,
            num_heads,
            dropout=dropout,
            bias=use_bias,
            kdim=kdim,
            vdim=vdim,
            batch_first=True,
        )
        self.causal = causal

    def forward(  # type: ignore[override]  # Keras's call order, one output
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
    """Family base of the custom attention modules: ``query``, ``key``, ``value`` and
    ``output`` projections (``nn.Linear``, weight (heads * size, features)) around
    ``attend``. ``sizes``: role → (input features, heads, head size); ``out``: (heads, head
    size, output features)."""

    def __init__(
        self,
        sizes: dict[str, tuple[int, int, int]],
        out: tuple[int, int, int],
        use_bias: bool,
        causal: bool,
        dropout: float,
    ) -> None:
        super().__init__()
        for role, (features, heads, size) in sizes.items():
            self.add_module(role, nn.Linear(features, heads * size, bias=use_bias))
        heads, size, features = out
        self.output = nn.Linear(heads * size, features, bias=use_bias)
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


class MultiHeadAttention(CustomAttention):
    """Keras MultiHeadAttention with sizes ``nn.MultiheadAttention`` cannot express (key_dim
    or value_dim other than query_features / num_heads, or another output width)."""

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
    ) -> None:
        """``features``: the (query, value, key) inputs' widths."""
        query, value, key = features
        sizes = {
            "query": (query, num_heads, key_dim),
            "key": (key, num_heads, key_dim),
            "value": (value, num_heads, value_dim),
        }
        super().__init__(sizes, (num_heads, value_dim, output_shape), use_bias, causal, dropout)


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
        self.rope_max_wavelength = rope_max_wavelength
        sizes = {
            "query": (query, num_query_heads, head_dim),
            "key": (key, num_key_value_heads, head_dim),
            "value": (value, num_key_value_heads, head_dim),
        }
        out = (num_query_heads, head_dim, query)
        super().__init__(sizes, out, use_bias, causal, dropout)
        self.repeats = num_query_heads // num_key_value_heads

    def heads_of(
        self, query: torch.Tensor, value: torch.Tensor | None, key: torch.Tensor | None
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        q, k, v = super().heads_of(query, value, key)
        if self.rope_max_wavelength is not None:
            q, k = rotated(q, self.rope_max_wavelength), rotated(k, self.rope_max_wavelength)
        return q, k.repeat_interleave(self.repeats, dim=2), v.repeat_interleave(self.repeats, dim=2)


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
