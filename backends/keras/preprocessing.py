"""Preprocessing layers: Rescaling, Keras's own layer."""

from __future__ import annotations

from typing import Any

import keras

from backends.keras.model import BUILDERS, keras_args
from translator.ir import Node


@BUILDERS.register("Rescaling")
def build_rescaling(node: Node) -> Any:
    """Rescaling(scale, offset=0.0) → ``keras.layers.Rescaling``."""
    return keras.layers.Rescaling(**keras_args(node))
