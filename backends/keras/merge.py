"""Merge layers: Add, Multiply, Subtract, Average, Maximum, Minimum and Concatenate, each
called on the list of its input tensors; and the keras.ops arithmetic that computes one (``x +
y``), or a Rescaling (``x + 3.0``, ``x * 0.5``), in a functional model."""

from __future__ import annotations

from typing import Any

import keras

from backends.keras.importing import IMPORTERS, OPERATIONS, by_schema, refuse
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


# keras.ops arithmetic on two tensors is the merge layer of the same name; with a number, it is
# the Rescaling ``x * scale + offset`` that computes it exactly: (scale, offset) per side.
WITH_NUMBER = {
    "Add": lambda c, first: (1.0, c),
    "Subtract": lambda c, first: (1.0, -c) if first else (-1.0, c),
    "Multiply": lambda c, first: (c, 0.0),
}


def _is_tensor(value: Any) -> bool:
    return bool(keras.backend.is_keras_tensor(value))


@OPERATIONS.register("Add", "Subtract", "Multiply", "Maximum", "Minimum")
def import_arithmetic(operation: Any, arguments: list[Any]) -> dict[str, Any]:
    """``x + y`` → Add; ``x + 3.0`` → Rescaling(scale=1, offset=3); ``x * 0.5`` → Rescaling."""
    kind = type(operation).__name__
    tensors = [a for a in arguments if _is_tensor(a)]
    if len(tensors) == 2 == len(arguments):
        return {"type": kind}
    number = next((a for a in arguments if not _is_tensor(a)), None)
    if (
        not isinstance(number, int | float)
        or isinstance(number, bool)
        or len(tensors) != 1
        or len(arguments) != 2
        or kind not in WITH_NUMBER
    ):
        raise refuse(operation, f"{kind} of {arguments!r}: two tensors, or a tensor and a number")
    scale, offset = WITH_NUMBER[kind](float(number), _is_tensor(arguments[0]))
    layer: dict[str, Any] = {"type": "Rescaling", "scale": scale}
    return {**layer, "offset": offset} if offset else layer


@IMPORTERS.register("CustomScaleLayer")
def import_scaled_residual(layer: Any) -> dict[str, Any]:
    """keras.applications InceptionResNetV2's residual ``x + branch * scale`` (its
    ``CustomScaleLayer``): an Add whose second input goes through Rescaling(scale) first."""
    if not type(layer).__module__.startswith("keras.src.applications."):
        raise refuse(layer, "a CustomScaleLayer other than keras.applications' own")
    scale = float(layer.get_config()["scale"])
    rescaling = {"role": "scale", "type": "Rescaling", "scale": scale}
    return {"type": "Add", "prepared": {1: rescaling}}
