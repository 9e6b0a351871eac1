"""Merge layers: Add, Multiply, Subtract, Average, Maximum, Minimum and Concatenate.

Each element-wise merge combines its inputs left to right, as Keras does, so the float
results match Keras's to the last bit where the operator order allows.
"""

from __future__ import annotations

from backends.onnx.model import BUILDERS, Builder, Layer


def _fold(op_type: str) -> Builder:
    """A builder applying the binary ``op_type`` left to right over all inputs."""

    def build(layer: Layer, inputs: list[str]) -> list[str]:
        y = inputs[0]
        for x in inputs[1:]:
            y = layer.op(op_type, [y, x])
        return [y]

    build.__doc__ = f"Element-wise {op_type} of two or more inputs, left to right."
    return build


# Layer type → the binary ONNX operator Keras's merge applies pairwise.
FOLDS = {"Add": "Add", "Multiply": "Mul", "Subtract": "Sub", "Maximum": "Max", "Minimum": "Min"}
for _type, _op in FOLDS.items():
    BUILDERS.register(_type)(_fold(_op))


@BUILDERS.register("Average")
def build_average(layer: Layer, inputs: list[str]) -> list[str]:
    """Average(): Keras sums the inputs left to right, then divides by their number."""
    (total,) = BUILDERS["Add"](layer, inputs)
    return [layer.op("Div", [total, layer.const("count", float(len(inputs)))])]


@BUILDERS.register("Concatenate")
def build_concatenate(layer: Layer, inputs: list[str]) -> list[str]:
    """Concatenate(axis=-1): Keras counts axes with the batch as 0, exactly as ONNX does."""
    return [layer.op("Concat", inputs, axis=layer.args["axis"])]
