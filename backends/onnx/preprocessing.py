"""Preprocessing layers: Rescaling, as standard operators (Mul, then Add)."""

from __future__ import annotations

from backends.onnx.model import BUILDERS, Layer


@BUILDERS.register("Rescaling")
def build_rescaling(layer: Layer, inputs: list[str]) -> list[str]:
    """Rescaling(scale, offset=0.0): ``Mul`` by the scale, then ``Add`` of the offset (none when
    it is 0). The two scalars are constants, not weights."""
    y = layer.op("Mul", [inputs[0], layer.const("scale", layer.args["scale"])])
    if layer.args["offset"]:
        y = layer.op("Add", [y, layer.const("offset", layer.args["offset"])])
    return [y]
