"""Merge layers: Add and Concatenate (called on the list of their input tensors)."""

from __future__ import annotations

from typing import Any

import keras

from backends.keras.model import BUILDERS, keras_args
from translator.ir import Node

MERGES = {"Add": keras.layers.Add, "Concatenate": keras.layers.Concatenate}


@BUILDERS.register(*MERGES)
def build_merge(node: Node) -> Any:
    """Add() and Concatenate(axis=-1)."""
    return MERGES[node.type](**keras_args(node))
