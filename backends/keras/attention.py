"""Attention: MultiHeadAttention, GroupQueryAttention and PositionEmbedding.

The graph hands a multi-input layer the list of its input tensors, in Keras's call order
``[query, value]`` or ``[query, value, key]``; one tensor is self-attention (query = value =
key). Keras's attention layers take those as separate call arguments and take the causal
mask as a call argument too, so each is Keras's own class with a thin ``call`` that unpacks
the list and passes ``use_causal_mask`` from the spec. Variables, names and arithmetic are
Keras's (scores scaled by 1/sqrt(key_dim); GroupQueryAttention repeats each key/value head
``num_query_heads / num_key_value_heads`` times, consecutively).

PositionEmbedding is not a Keras core layer: it is this project's layer, written after
``keras_hub.layers.PositionEmbedding`` (one weight ``embeddings``; returns its first
``steps`` rows broadcast to the input's shape).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import keras

from backends.keras.model import (
    BUILDERS,
    EXPORT_REWRITES,
    NAME,
    Apply,
    LayerMixin,
    counting,
    keras_args,
    not_wrapped,
)
from backends.keras.position_bias import biased_attention
from translator.errors import UnsupportedInBackend
from translator.ir import Graph, Node
from translator.ops.attention import ROLES, uniform

ROLE_BIASES = tuple(f"{role}_bias" for role in ROLES)


def roles(inputs: Sequence[Any]) -> tuple[Any, Any, Any]:
    """(query, value, key) from the graph's list of tensors (or of their shapes)."""
    query, *rest = inputs
    value = rest[0] if rest else query
    key = rest[1] if len(rest) > 1 else value
    return query, value, key


class _FromList(LayerMixin):
    """Mixin for a Keras attention layer: one list argument in the graph's order, and the
    spec's ``causal`` applied at every call."""

    def __init__(self, *, causal: bool = False, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.causal = causal

    def build(self, inputs_shape: Sequence[Any]) -> None:
        super().build(*roles(inputs_shape))

    def call(self, inputs: Sequence[Any], training: bool | None = None) -> Any:
        query, value, key = roles(inputs)
        return super().call(query, value, key, training=training, use_causal_mask=self.causal)

    def compute_output_spec(self, inputs: Sequence[Any], training: bool | None = None) -> Any:
        query = inputs[0]
        return keras.KerasTensor(self.compute_output_shape(query.shape), self.compute_dtype)

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "causal": self.causal}


@keras.saving.register_keras_serializable(package="translator")
class SpecMultiHeadAttention(_FromList, keras.layers.MultiHeadAttention):
    """Keras MultiHeadAttention called on ``[query, value(, key)]`` with the spec's causal.

    Also what Keras's layer cannot say: a bias on some projections only (``query_bias``,
    ``key_bias``, ``value_bias``, ``output_bias``; null: ``use_bias``), built here as Keras's
    own ``EinsumDense`` projections of the same names, and another ``scale`` of the scores
    than 1/sqrt(key_dim), which Keras's attention reads from ``_inverse_sqrt_key_dim``.
    """

    def __init__(
        self,
        *,
        query_bias: bool | None = None,
        key_bias: bool | None = None,
        value_bias: bool | None = None,
        output_bias: bool | None = None,
        scale: float | None = None,
        attention_bias: bool = False,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.attention_bias = attention_bias
        own = {"query": query_bias, "key": key_bias, "value": value_bias, "output": output_bias}
        self.biases = {role: self._use_bias if b is None else b for role, b in own.items()}
        self.scale = scale
        if scale is not None:
            self._inverse_sqrt_key_dim = scale

    def build(self, inputs_shape: Sequence[Any]) -> None:
        query, value, key = roles(inputs_shape[:-1] if self.attention_bias else inputs_shape)
        h, kd, vd = self._num_heads, self._key_dim, self._value_dim
        self._query_dense = self._projection("query", (h, kd), query)
        self._key_dense = self._projection("key", (h, kd), key)
        self._value_dense = self._projection("value", (h, vd), value)
        self._build_attention(4)  # the projections' rank: (batch, steps, heads, size)
        out = tuple(self._output_shape or (query[-1],))
        self._output_dense = keras.layers.EinsumDense(
            "abcd,cde->abe",
            output_shape=(None, *out),
            bias_axes="e" if self.biases["output"] else None,
            name="attention_output",
            **self._get_common_kwargs_for_sublayer(),
        )
        self._output_dense.build((*query[:-1], h, vd))

    def _projection(self, role: str, heads: tuple[int, int], shape: Sequence[Any]) -> Any:
        """Keras's (batch, steps, features) → (batch, steps, heads, size) EinsumDense."""
        dense = keras.layers.EinsumDense(
            "abc,cde->abde",
            output_shape=(None, *heads),
            bias_axes="de" if self.biases[role] else None,
            name=role,
            **self._get_common_kwargs_for_sublayer(),
        )
        dense.build(shape)
        return dense

    def get_config(self) -> dict[str, Any]:
        own = {f"{role}_bias": b for role, b in self.biases.items()}
        own |= {"scale": self.scale, "attention_bias": self.attention_bias}
        return {**super().get_config(), **own}

    def call(self, inputs: Sequence[Any], training: bool | None = None) -> Any:
        if not self.attention_bias:
            return super().call(inputs, training=training)
        *sources, bias = inputs
        return biased_attention(self, *roles(sources), bias, training)

    def compute_output_shape(self, query_shape: Sequence[Any]) -> tuple[Any, ...]:
        # Keras's rule: the query's shape with the last axis replaced by output_shape.
        out = self._output_shape or (query_shape[-1],)
        return (*query_shape[:-1], *out)


@keras.saving.register_keras_serializable(package="translator")
class SpecGroupQueryAttention(_FromList, keras.layers.GroupQueryAttention):
    """Keras GroupQueryAttention called on ``[query, value(, key)]`` with the spec's causal.

    Keras's ``compute_output_shape`` also insists that query and value have the same width,
    which the computation does not need (value is projected to head_dim like the others);
    the output is the query's shape either way.
    """

    def compute_output_shape(self, query_shape: Sequence[Any]) -> tuple[Any, ...]:
        return tuple(query_shape)


def rotated(x: Any, max_wavelength: float) -> Any:
    """Rotary position embeddings on (batch, steps, heads, size), as Llama's: feature ``i``
    of the first half pairs with ``i + size/2`` (rotate_half), turned by the angle
    ``position / max_wavelength ** (2i / size)``."""
    ops, size = keras.ops, x.shape[-1]
    half = size // 2
    exponents = keras.ops.arange(0, size, 2, dtype="float32") / size
    inverse = 1.0 / ops.power(ops.cast(max_wavelength, "float32"), exponents)
    positions = ops.arange(ops.shape(x)[1], dtype="float32")
    angles = ops.expand_dims(positions, 1) * ops.expand_dims(inverse, 0)
    angles = ops.concatenate([angles, angles], axis=-1)[None, :, None, :]  # (1, steps, 1, size)
    turned = ops.concatenate([-x[..., half:], x[..., :half]], axis=-1)
    return x * ops.cos(angles) + turned * ops.sin(angles)


@keras.saving.register_keras_serializable(package="translator")
class SpecRotaryGroupQueryAttention(SpecGroupQueryAttention):
    """SpecGroupQueryAttention whose query and key heads are rotated (``rotated``) before
    the scores: Keras's layer has no rotary embeddings (keras_hub's Llama rotates inside its
    own attention layer, the same way)."""

    def __init__(self, *, rope_max_wavelength: float, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.rope_max_wavelength = rope_max_wavelength

    def _compute_attention(
        self, query: Any, key: Any, value: Any, *args: Any, **kwargs: Any
    ) -> Any:
        query, key = (rotated(x, self.rope_max_wavelength) for x in (query, key))
        return super()._compute_attention(query, key, value, *args, **kwargs)

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "rope_max_wavelength": self.rope_max_wavelength}


@BUILDERS.register("MultiHeadAttention")
def build_multi_head_attention(node: Node) -> Any:
    """MultiHeadAttention(num_heads, key_dim, value_dim=None, output_shape=None, dropout=0,
    use_bias=True) called with use_causal_mask=causal."""
    return SpecMultiHeadAttention(**keras_args(node))


@BUILDERS.register("GroupQueryAttention")
def build_group_query_attention(node: Node) -> Any:
    """GroupQueryAttention(head_dim, num_query_heads, num_key_value_heads, dropout=0,
    use_bias=True, rope_max_wavelength=None) called with use_causal_mask=causal; rotary
    (``SpecRotaryGroupQueryAttention``) where rope_max_wavelength is set."""
    args = keras_args(node)
    if args["rope_max_wavelength"] is not None:
        return SpecRotaryGroupQueryAttention(**args)
    return SpecGroupQueryAttention(**{k: v for k, v in args.items() if k != "rope_max_wavelength"})


@keras.saving.register_keras_serializable(package="translator")
class PositionEmbedding(keras.layers.Layer):
    """A learned embedding per position: NOT a Keras core layer (after keras_hub's).

    Holds ``embeddings`` of shape (sequence_length, features), initialized glorot-uniform as
    keras_hub's is; ``call`` returns rows ``[0, steps)`` broadcast to the input's shape.
    """

    def __init__(
        self, sequence_length: int, initializer: Any = "glorot_uniform", **kwargs: Any
    ) -> None:
        super().__init__(**kwargs)
        self.sequence_length = int(sequence_length)
        self.initializer = keras.initializers.get(initializer)

    def build(self, inputs_shape: Sequence[Any]) -> None:
        self.embeddings = self.add_weight(
            name="embeddings",
            shape=(self.sequence_length, inputs_shape[-1]),
            initializer=self.initializer,
        )

    def call(self, inputs: Any) -> Any:
        shape = keras.ops.shape(inputs)
        rows = keras.ops.slice(self.embeddings, (0, 0), (shape[-2], shape[-1]))
        return keras.ops.broadcast_to(rows, shape)

    def compute_output_shape(self, input_shape: Sequence[Any]) -> Sequence[Any]:
        return input_shape

    def get_config(self) -> dict[str, Any]:
        return {
            **super().get_config(),
            "sequence_length": self.sequence_length,
            "initializer": keras.initializers.serialize(self.initializer),
        }


@BUILDERS.register("PositionEmbedding")
def build_position_embedding(node: Node) -> Any:
    """PositionEmbedding(sequence_length): add its output to the input with an Add."""
    return PositionEmbedding(**keras_args(node))


# --- export: Keras's built-in layers in place of this module's own classes ----------------

KERAS_ATTENTION = {
    "MultiHeadAttention": keras.layers.MultiHeadAttention,
    "GroupQueryAttention": keras.layers.GroupQueryAttention,
}


def _attention(node: Node) -> tuple[Any, Apply]:
    """Keras's attention layer on (query, value, key), causal as the spec says."""
    query, value, _ = roles(node.input_shapes)
    if node.type == "GroupQueryAttention" and query[-1] != value[-1]:
        # Keras's layer refuses (in compute_output_shape, so at every load too).
        reason = f"Keras's refuses a query {query[-1]} wide with values {value[-1]} wide"
        raise UnsupportedInBackend(NAME, node.type, reason)
    if node.type == "MultiHeadAttention" and not uniform(node):
        reason = (
            "Keras's MultiHeadAttention has one use_bias for all projections, always scales"
            " by 1/sqrt(key_dim) and adds no bias to the scores: no built-in layer does"
        )
        raise UnsupportedInBackend(NAME, node.type, reason)
    if node.args.get("rope_max_wavelength") is not None:
        reason = "Keras's GroupQueryAttention has no rotary embeddings (no built-in layer rotates)"
        raise UnsupportedInBackend(NAME, node.type, reason)
    own = ("causal", "rope_max_wavelength", "scale", "attention_bias", *ROLE_BIASES)
    args = {k: v for k, v in keras_args(node).items() if k not in own}
    layer = KERAS_ATTENTION[node.type](**args)

    def apply(inputs: list[Any]) -> Any:
        query, value, key = roles(inputs)
        return layer(query, value, key=key, use_causal_mask=node.args["causal"])

    return layer, apply


def _position_embedding(node: Node) -> tuple[Any, Apply]:
    """An Embedding of the positions: rows 0 .. steps - 1, one per example."""
    size = (node.args["sequence_length"], node.input_shape[1])
    layer = keras.layers.Embedding(*size, name=node.name)
    return layer, lambda x: layer(counting(x[:, :, 0]))


@EXPORT_REWRITES.register(*KERAS_ATTENTION)
def export_attention(graph: Graph, node: Node, target: Node, layers: dict[str, Any]) -> Any:
    """Keras's attention layer with ``use_causal_mask``."""
    not_wrapped(node, target)
    return _attention(node)


@EXPORT_REWRITES.register("PositionEmbedding")
def export_position_embedding(
    graph: Graph, node: Node, target: Node, layers: dict[str, Any]
) -> Any:
    """An ``Embedding`` (sequence_length, features) at positions 0 .. steps-1."""
    not_wrapped(node, target)
    return _position_embedding(node)
