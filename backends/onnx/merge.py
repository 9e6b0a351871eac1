"""Merge layers: Add and Concatenate."""

from __future__ import annotations

from backends.onnx.model import BUILDERS, Layer


@BUILDERS.register("Add")
def build_add(layer: Layer, inputs: list[str]) -> list[str]:
    """Add(): the element-wise sum of two or more inputs (ONNX Sum is variadic)."""
    return [layer.op("Sum", inputs)]


@BUILDERS.register("Concatenate")
def build_concatenate(layer: Layer, inputs: list[str]) -> list[str]:
    """Concatenate(axis=-1): Keras counts axes with the batch as 0, exactly as ONNX does."""
    return [layer.op("Concat", inputs, axis=layer.args["axis"])]
