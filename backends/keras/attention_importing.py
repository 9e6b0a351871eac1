"""Importing Keras's attention layers: ``keras.layers.MultiHeadAttention`` and
``GroupQueryAttention`` as a functional model calls them (``layer(query, value, key=key,
use_causal_mask=True)``, as the translator's own ``model.keras`` does), and the backend's own
classes (``SpecMultiHeadAttention`` ...) called on ``[query, value, key]``.

The spec's inputs are the call's tensors in Keras's order, query, value, key; a value or key
that repeats the input before it is left out (``inputs: x`` is self-attention). A call with a
mask tensor, or asking for the scores, is refused: a spec's attention has no mask inputs.
"""

from __future__ import annotations

from functools import partial
from typing import Any

from backends.keras.attention import (
    KERAS_ATTENTION,
    SpecGroupQueryAttention,
    SpecMultiHeadAttention,
    SpecRotaryGroupQueryAttention,
)
from backends.keras.importing import IMPORTERS, refuse, schema_args

# Call arguments that change nothing at inference or that the spec states itself.
_QUIET_CALL_ARGUMENTS = {"training", "use_causal_mask", "key"}
# The backend's own classes: Keras's, with configs that hold every spec argument.
_OWN = (SpecMultiHeadAttention, SpecGroupQueryAttention, SpecRotaryGroupQueryAttention)


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


def _args(layer: Any, type_: str, config: dict[str, Any]) -> dict[str, Any]:
    if config.get("value_dim") == config.get("key_dim"):
        config["value_dim"] = None  # Keras writes its resolved default
    shape = config.get("output_shape")
    if isinstance(shape, list | tuple) and len(shape) == 1:
        config["output_shape"] = shape[0]  # Keras keeps (features,); the spec the number
    return {**schema_args(layer, type_, config), "inputs_implied": True}


def import_stock_attention(type_: str, layer: Any) -> dict[str, Any]:
    """Keras's MultiHeadAttention(num_heads, key_dim, value_dim, output_shape, dropout,
    use_bias) or GroupQueryAttention(head_dim, num_query_heads, num_key_value_heads, dropout,
    use_bias): the spec layer of the same arguments, causal from the call."""
    config = layer.get_config()
    if config.pop("attention_axes", None) not in (None, [1], (1,)):  # (1,): Keras's default
        raise refuse(layer, "attention over other axes than the steps (attention_axes)")
    config["causal"] = _causal(layer)
    return _args(layer, type_, config)


def import_own_attention(type_: str, layer: Any) -> dict[str, Any]:
    """The backend's own classes, rotary or not: their configs hold every spec argument."""
    return _args(layer, type_, layer.get_config())


for _type, _keras_class in KERAS_ATTENTION.items():
    IMPORTERS.register(_keras_class.__name__)(partial(import_stock_attention, _type))
for _own in _OWN:
    _spec_type = next(t for t, c in KERAS_ATTENTION.items() if issubclass(_own, c))
    IMPORTERS.register(_own.__name__)(partial(import_own_attention, _spec_type))
