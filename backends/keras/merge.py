"""Merge layers: Add, Multiply, Subtract, Average, Maximum, Minimum and Concatenate, each
called on the list of its input tensors."""

from __future__ import annotations

from typing import Any

import keras

from backends.keras.importing import IMPORTERS, by_schema
from backends.keras.model import BUILDERS, keras_args
from translator.ir import Node

MERGES = {
    "Add": keras.layers.Add,
    "Multiply": keras.layers.Multiply,
    "Subtract": keras.layers.Subtract,  # exactly two inputs: first − second
    "Average": keras.layers.Average,
    "Maximum": keras.layers.Maximum,
    "Minimum": keras.layers.Minimum,
    "Concatenate": keras.layers.Concatenate,
}


@BUILDERS.register(*MERGES)
def build_merge(node: Node) -> Any:
    """Add(), Multiply(), Subtract(), Average(), Maximum(), Minimum(), Concatenate(axis=-1)."""
    return MERGES[node.type](**keras_args(node))


IMPORTERS.register(*MERGES)(by_schema)  # Keras's classes, same arguments
