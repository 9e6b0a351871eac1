"""Importing Keras's attention layers: ``keras.layers.MultiHeadAttention`` and
``GroupQueryAttention`` as a functional model calls them (``layer(query, value, key=key,
use_causal_mask=True)``, as the translator's own ``model.keras`` does), and the backend's own
classes (``SpecMultiHeadAttention`` ...) called on ``[query, value, key]``.

The spec's inputs are the call's tensors in Keras's order, query, value, key; a value or key
that repeats the input before it is left out (``inputs: x`` is self-attention). A call with a
mask tensor, or asking for the scores, is refused: a spec's attention has no mask inputs.
"""

from __future__ import annotations

from typing import Any

from backends.keras.importing import IMPORTERS, refuse, schema_args

# Call arguments that change nothing at inference or that the spec states itself.
_QUIET_CALL_ARGUMENTS = {"training", "use_causal_mask", "key"}


def _causal(layer: Any) -> bool:
    """The ``use_causal_mask`` of the layer's first call (a shared layer's later calls are
    ``share`` entries, the same layer), after refusing what the spec cannot say."""
    calls = layer._inbound_nodes
    if not calls:
        raise refuse(layer, "a layer never called in the model")
    kwargs = calls[0].arguments.kwargs
    for name, value in sorted(kwargs.items()):
        if name in _QUIET_CALL_ARGUMENTS or value is None or value is False:
            continue
        raise refuse(layer, f"called with {name}: a spec's attention takes no masks or scores")
    return bool(kwargs.get("use_causal_mask", False))


def _stock(layer: Any, type_: str) -> dict[str, Any]:
    config = layer.get_config()
    if config.pop("attention_axes", None) not in (None, [1], (1,)):  # (1,): Keras's default
        raise refuse(layer, "attention over other axes than the steps (attention_axes)")
    if config.get("value_dim") == config.get("key_dim"):
        config["value_dim"] = None  # Keras writes its resolved default
    config["causal"] = _causal(layer)
    return {**schema_args(layer, type_, config), "inputs_implied": True}


@IMPORTERS.register("MultiHeadAttention")
def import_multi_head_attention(layer: Any) -> dict[str, Any]:
    """keras.layers.MultiHeadAttention(num_heads, key_dim, value_dim, output_shape, dropout,
    use_bias), causal from the call's ``use_causal_mask``."""
    return _stock(layer, "MultiHeadAttention")


@IMPORTERS.register("GroupedQueryAttention")  # keras.layers.GroupQueryAttention's class
def import_group_query_attention(layer: Any) -> dict[str, Any]:
    """keras.layers.GroupQueryAttention(head_dim, num_query_heads, num_key_value_heads,
    dropout, use_bias), causal from the call's ``use_causal_mask``."""
    return _stock(layer, "GroupQueryAttention")


@IMPORTERS.register("SpecMultiHeadAttention")
def import_own_multi_head_attention(layer: Any) -> dict[str, Any]:
    """The backend's own class: its config holds every spec argument."""
    config = layer.get_config()
    if config.get("value_dim") == config.get("key_dim"):
        config["value_dim"] = None
    return {**schema_args(layer, "MultiHeadAttention", config), "inputs_implied": True}


@IMPORTERS.register("SpecGroupQueryAttention", "SpecRotaryGroupQueryAttention")
def import_own_group_query_attention(layer: Any) -> dict[str, Any]:
    """The backend's own classes, rotary or not: the config holds every spec argument."""
    return {**schema_args(layer, "GroupQueryAttention"), "inputs_implied": True}
