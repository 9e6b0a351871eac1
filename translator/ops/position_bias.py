"""Relative position bias: T5's learned (num_buckets, num_heads) table of additive attention
biases, looked up by the bucket of each key's position relative to each query's.

T5 (Raffel et al. 2020; Hugging Face's ``T5Attention.compute_bias``) adds, to the scores of
head ``h`` for query step ``i`` and key step ``j``, ``table[bucket(j - i), h]``. The buckets
are exact for small distances and logarithmic up to ``max_distance``, beyond which they
saturate; bidirectional (the encoder) gives keys before and after the query buckets of their
own, unidirectional (the decoder) buckets only the keys before it. Only T5's first layer
holds the table and the others reuse its bias: here the layer is computed once and its
output reaches every attention layer as an extra input (``attention_bias: true``).

The buckets depend on ``j - i`` alone and saturate beyond ``max_distance``, so every backend
reads them from one table of ``2 · max_distance + 1`` integers (``buckets``): index
``clip(j - i, -max_distance, max_distance) + max_distance``.
"""

from __future__ import annotations

import math

from translator.ir import Node, Shape, WeightSpec
from translator.ir.registries import formula_rule, shape_rule, weight_rule
from translator.spec.schema import REQUIRED, Arg, Bool, Int, layer_schema
from translator.weights.maps import LayerMap, renamed, weight_map

layer_schema(
    "RelativePositionBias",
    "position_bias",
    "T5's relative position bias: a learned (num_buckets, num_heads) table looked up by the "
    "bucket of each key's position relative to each query's; returns (num_heads, steps, "
    "steps) per example, for a MultiHeadAttention with `attention_bias: true`.",
    Arg("num_heads", Int(), REQUIRED, "heads of the attention it biases"),
    Arg(
        "num_buckets",
        Int(),
        32,
        "buckets of relative positions (T5 relative_attention_num_buckets)",
    ),
    Arg(
        "max_distance",
        Int(),
        128,
        "distance beyond which all positions share a bucket (T5 relative_attention_max_distance)",
    ),
    Arg(
        "bidirectional",
        Bool(),
        True,
        "keys after the query get buckets of their own (T5's encoder); false: the decoder's",
    ),
)


def buckets(num_buckets: int, max_distance: int, bidirectional: bool) -> list[int]:
    """The bucket of every relative position ``j - i`` from ``-max_distance`` to
    ``max_distance``, as ``T5Attention._relative_position_bucket`` computes it."""
    return [
        _bucket(d, num_buckets, max_distance, bidirectional)
        for d in range(-max_distance, max_distance + 1)
    ]


def _bucket(distance: int, num_buckets: int, max_distance: int, bidirectional: bool) -> int:
    offset, n = 0, num_buckets
    if bidirectional:
        n //= 2
        offset = n if distance > 0 else 0
        far = abs(distance)
    else:
        far = -min(distance, 0)
    exact = n // 2
    if far < exact:
        return offset + far
    scaled = math.log(far / exact) / math.log(max_distance / exact) * (n - exact)
    return offset + min(exact + int(scaled), n - 1)


@shape_rule("RelativePositionBias")
def position_bias_shape(node: Node) -> tuple[Shape, ...]:
    if len(node.input_shape) != 2:
        raise node.shape_error("expects sequences (batch, steps, features)", "")
    a = node.args
    if a["num_buckets"] < (4 if a["bidirectional"] else 2) or a["max_distance"] < 1:
        raise node.shape_error(
            f"Received: num_buckets={a['num_buckets']}, max_distance={a['max_distance']}",
            "give at least 4 buckets (2 unidirectional) and a positive max_distance",
        )
    steps = node.input_shape[0]
    return ((a["num_heads"], steps, steps),)


@weight_rule("RelativePositionBias")
def position_bias_weights(node: Node) -> dict[str, tuple[WeightSpec, ...]]:
    shape = (node.args["num_buckets"], node.args["num_heads"])
    return {
        "keras": (WeightSpec("embeddings", shape, "embeddings"),),
        "torch": (WeightSpec("weight", shape, "embeddings"),),
        "onnx": (WeightSpec("embeddings", shape, "embeddings"),),
    }


@formula_rule("RelativePositionBias")
def position_bias_formula(node: Node) -> str:
    return f"{node.args['num_buckets']} buckets × {node.args['num_heads']} heads"


@weight_map("RelativePositionBias")
def position_bias_map(node: Node) -> LayerMap:
    """One (num_buckets, num_heads) table everywhere (T5's ``relative_attention_bias.weight``)."""
    return renamed(
        node,
        {
            "keras": (("embeddings", "embeddings"),),
            "torch": (("weight", "embeddings"),),
            "onnx": (("embeddings", "embeddings"),),
        },
    )
