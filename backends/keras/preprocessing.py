"""Preprocessing layers: Rescaling and Normalization, Keras's own layers."""

from __future__ import annotations

from typing import Any

import keras

from backends.keras.importing import IMPORTERS, by_schema, schema_args
from backends.keras.model import BUILDERS, keras_args
from translator.ir import Node


@BUILDERS.register("Rescaling")
def build_rescaling(node: Node) -> Any:
    """Rescaling(scale, offset=0.0) → ``keras.layers.Rescaling``."""
    return keras.layers.Rescaling(**keras_args(node))


@BUILDERS.register("Normalization")
def build_normalization(node: Node) -> Any:
    """Normalization(axis=-1, invert=False, mean=None, variance=None) →
    ``keras.layers.Normalization``: without mean and variance it creates its mean, variance and
    count weights (zeros, ones, 0, as before ``adapt``), whose values come from ``port`` or a
    weights file; with them, constants and no weights."""
    return keras.layers.Normalization(**keras_args(node))


IMPORTERS.register("Rescaling")(by_schema)  # Keras's class, same arguments


@IMPORTERS.register("Normalization")
def import_normalization(layer: Any) -> dict[str, Any]:
    """A Normalization, its statistics weights (set by ``adapt``) or constants (given)."""
    config = layer.get_config()
    axis = config["axis"]
    if isinstance(axis, list | tuple) and len(axis) == 1:  # Keras keeps axis=-1 as (-1,)
        config = {**config, "axis": axis[0]}
    return schema_args(layer, "Normalization", config)
