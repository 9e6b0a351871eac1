"""Wrappers: TimeDistributed and Bidirectional, each around a layer built by the registry.

The wrapped layer is always named after the wrapped IR node: Keras would otherwise name it
with a process-global counter, and its name is part of every variable path inside.
"""

from __future__ import annotations

from typing import Any

import keras

from backends.keras.model import BUILDERS, NAME, build_layer, keras_args
from translator.errors import UnsupportedInBackend
from translator.ir import Node
from translator.schema import SCHEMAS


def _inner(node: Node) -> Node:
    inner = node.inner
    if inner is None:  # the loader guarantees a wrapped layer; this is a translator bug
        raise TypeError(f"{node.name}: wrapper without a wrapped layer")
    return inner


@BUILDERS.register("TimeDistributed")
def build_time_distributed(node: Node) -> Any:
    """TimeDistributed(layer)."""
    inner = _inner(node)
    if SCHEMAS[inner.type].min_inputs > 1:
        raise UnsupportedInBackend(
            NAME,
            node.type,
            f"Keras's TimeDistributed feeds one tensor per step; {inner.type} merges several",
        )
    return keras.layers.TimeDistributed(**keras_args(node, layer=build_layer(inner)))


@BUILDERS.register("Bidirectional")
def build_bidirectional(node: Node) -> Any:
    """Bidirectional(layer, merge_mode="concat"); merge_mode null gives two outputs."""
    inner = build_layer(_inner(node))
    return keras.layers.Bidirectional(**keras_args(node, layer=inner))
