"""Wrappers: TimeDistributed and Bidirectional, each around a layer built by the registry.

The wrapped layer is always named after the wrapped IR node: Keras would otherwise name it
with a process-global counter, and its name is part of every variable path inside.
"""

from __future__ import annotations

from typing import Any

import keras

from backends.keras.importing import IMPORTERS, import_layer, refuse, schema_args
from backends.keras.model import BUILDERS, build_layer, keras_args
from translator.ir import Node


@BUILDERS.register("TimeDistributed")
def build_time_distributed(node: Node) -> Any:
    """TimeDistributed(layer)."""
    inner = node.wrapped
    return keras.layers.TimeDistributed(**keras_args(node, layer=build_layer(inner)))


def _backward_copy(layer: Any) -> Any:
    """The backward layer as Keras's Bidirectional makes it (a copy from the layer's config,
    named backward_<name>), except that go_backwards is flipped rather than forced to true.

    Keras 3.15 forces it to true and then refuses a wrapped layer that itself goes backwards
    ("should have different `go_backwards` value"); tf.keras 2 flipped it. For a wrapped
    layer that goes forwards the two agree, so this is Keras's own copy; for one that goes
    backwards it is tf.keras's: the forward copy reads the reversed sequence, the backward
    copy reads it in order, and Bidirectional flips the backward output sequence as usual.
    """
    config = keras.saving.serialize_keras_object(layer)
    config["config"]["go_backwards"] = not layer.go_backwards
    config["config"]["name"] = "backward_" + layer.name.removeprefix("backward_")
    return keras.saving.deserialize_keras_object(config)


@BUILDERS.register("Bidirectional")
def build_bidirectional(node: Node) -> Any:
    """Bidirectional(layer, merge_mode="concat"); merge_mode null gives two outputs."""
    inner = build_layer(node.wrapped)
    return keras.layers.Bidirectional(
        **keras_args(node, layer=inner), backward_layer=_backward_copy(inner)
    )


def _wrapped(inner: Any, prefix: str = "") -> dict[str, Any]:
    """The wrapped layer's spec, named as in Keras (its variable paths carry the name; the
    IR puts Bidirectional's ``forward_`` / ``backward_`` back in front)."""
    return {"name": inner.name.removeprefix(prefix), **import_layer(inner)}


@IMPORTERS.register("TimeDistributed")
def import_time_distributed(layer: Any) -> dict[str, Any]:
    """Keras's TimeDistributed(layer)."""
    config = {**layer.get_config(), "layer": None}
    return {**schema_args(layer, "TimeDistributed", config), "layer": _wrapped(layer.layer)}


def _mirror(config: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in config.items() if k not in ("name", "go_backwards")}


@IMPORTERS.register("Bidirectional")
def import_bidirectional(layer: Any) -> dict[str, Any]:
    """Keras's Bidirectional(layer, merge_mode); its backward layer must mirror the forward
    one (a spec has no other kind)."""
    forward, backward = layer.forward_layer, layer.backward_layer
    if _mirror(forward.get_config()) != _mirror(backward.get_config()):
        raise refuse(layer, "its backward layer is not a mirror of its forward layer")
    config = {**layer.get_config(), "layer": None, "backward_layer": None}
    return {**schema_args(layer, "Bidirectional", config), "layer": _wrapped(forward, "forward_")}
