"""RelativePositionBias (T5's), and the attention that adds it to its scores.

RelativePositionBias is not a Keras core layer: it is this project's layer, written after
Hugging Face's ``T5Attention.compute_bias`` (one weight ``embeddings`` of shape
(num_buckets, num_heads); the output is ``embeddings[bucket(j - i)]`` as (heads, query
steps, key steps), broadcast to the batch). The buckets are the translator's table
(``translator.ops.position_bias.buckets``), gathered at ``clip(j - i) + max_distance``.

``biased_attention`` is what a MultiHeadAttention with ``attention_bias: true`` computes
from its projections: Keras's own arithmetic (scores of the scaled query, the causal mask
where the spec says, softmax, Keras's attention dropout) with the bias added to the scores.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import keras

from backends.keras.model import BUILDERS, EXPORT_REWRITES, counting, keras_args, not_wrapped
from translator.ir import Graph, Node
from translator.ops.position_bias import buckets

ops = keras.ops


@keras.saving.register_keras_serializable(package="translator")
class RelativePositionBias(keras.layers.Layer):
    """T5's relative position bias: NOT a Keras core layer (see the module's docstring)."""

    def __init__(
        self,
        num_heads: int,
        num_buckets: int = 32,
        max_distance: int = 128,
        bidirectional: bool = True,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.num_heads, self.num_buckets = int(num_heads), int(num_buckets)
        self.max_distance, self.bidirectional = int(max_distance), bool(bidirectional)
        self.table = buckets(self.num_buckets, self.max_distance, self.bidirectional)

    def build(self, input_shape: Sequence[Any]) -> None:
        self.embeddings = self.add_weight(
            name="embeddings", shape=(self.num_buckets, self.num_heads), initializer="random_normal"
        )

    def call(self, inputs: Any) -> Any:
        positions = counting(inputs[0, :, 0])  # 0 .. steps - 1
        relative = positions[None, :] - positions[:, None]  # key j - query i
        limit = self.max_distance
        index = ops.clip(relative, -limit, limit) + limit
        bucket = ops.take(ops.convert_to_tensor(self.table, "int32"), index)
        bias = ops.transpose(ops.take(self.embeddings, bucket, axis=0), (2, 0, 1))
        steps = ops.shape(inputs)[1]
        return ops.broadcast_to(bias[None], (ops.shape(inputs)[0], self.num_heads, steps, steps))

    def compute_output_shape(self, input_shape: Sequence[Any]) -> tuple[Any, ...]:
        return (input_shape[0], self.num_heads, input_shape[1], input_shape[1])

    def get_config(self) -> dict[str, Any]:
        own = ("num_heads", "num_buckets", "max_distance", "bidirectional")
        return {**super().get_config(), **{name: getattr(self, name) for name in own}}


@BUILDERS.register("RelativePositionBias")
def build_relative_position_bias(node: Node) -> Any:
    """RelativePositionBias(num_heads, num_buckets=32, max_distance=128, bidirectional=True)."""
    return RelativePositionBias(**keras_args(node))


@EXPORT_REWRITES.register("RelativePositionBias")
def export_relative_position_bias(
    graph: Graph, node: Node, target: Node, layers: dict[str, Any]
) -> Any:
    """An ``Embedding`` (num_buckets, num_heads) looked up at the buckets, computed with
    integer ops only (``stepped``): exactly the table's."""
    not_wrapped(node, target)
    a = node.args
    layer = keras.layers.Embedding(a["num_buckets"], a["num_heads"], name=node.name)

    def apply(x: Any) -> Any:
        positions = counting(x[:, :, 0])  # (batch, steps): 0 .. steps - 1
        relative = positions[:, None, :] - positions[:, :, None]  # key j - query i
        return ops.transpose(layer(stepped(relative, node)), (0, 3, 1, 2))

    return layer, apply


def stepped(relative: Any, node: Node) -> Any:
    """The buckets of ``relative`` positions as a step function: the side's offset (keys
    after the query, when bidirectional) plus one for every threshold the distance reaches,
    the thresholds read from the table (a bucket may grow by more than one at a step)."""
    a = node.args
    limit = a["max_distance"]
    table = buckets(a["num_buckets"], limit, a["bidirectional"])
    before = [table[limit - far] for far in range(limit + 1)]  # far = i - j >= 0
    thresholds = [far for far in range(1, limit + 1) for _ in range(before[far] - before[far - 1])]
    if a["bidirectional"]:
        side = ops.cast(relative > 0, "int32") * (a["num_buckets"] // 2)
        far = ops.abs(relative)
    else:
        side, far = ops.zeros_like(relative), ops.maximum(-relative, 0)
    steps = [ops.cast(far >= threshold, "int32") for threshold in thresholds]
    return side + sum(steps, ops.zeros_like(relative))


def biased_attention(layer: Any, query: Any, value: Any, key: Any, bias: Any, training: Any) -> Any:
    """``layer``'s (a SpecMultiHeadAttention's) attention with ``bias`` (batch, heads, query
    steps, key steps) added to the scores before the causal mask and the softmax."""
    q = layer._query_dense(query)  # (batch, steps, heads, size)
    k, v = layer._key_dense(key), layer._value_dense(value)
    q = ops.multiply(q, ops.cast(layer._inverse_sqrt_key_dim, q.dtype))
    scores = ops.einsum("bthd,bshd->bhts", q, k) + bias
    if layer.causal:
        visible = ops.tril(ops.ones((ops.shape(q)[1], ops.shape(k)[1]), "bool"))
        scores = ops.where(visible[None, None], scores, ops.cast(-1e9, scores.dtype))
    weights = layer._dropout_layer(ops.softmax(scores, axis=-1), training=training)
    return layer._output_dense(ops.einsum("bhts,bshd->bthd", weights, v))
