"""Preprocessing layers: Rescaling (no weights)."""

from __future__ import annotations

from translator.ir import Node, Shape
from translator.ir.placement import elementwise, layout_rule
from translator.ir.registries import no_weights, shape_rule, weight_rule
from translator.spec.schema import REQUIRED, Arg, Float, layer_schema

layer_schema(
    "Rescaling",
    "preprocessing",
    "Rescales every value: `x * scale + offset` (e.g. `scale: 0.00392156862745098` maps pixel "
    "values 0..255 to 0..1; `scale: 0.00784313725490196, offset: -1` to -1..1). No weights.",
    Arg("scale", Float(), REQUIRED, "the factor every value is multiplied by"),
    Arg("offset", Float(), 0.0, "added after scaling"),
)


@shape_rule("Rescaling")
def rescaling_shape(node: Node) -> tuple[Shape, ...]:
    return (node.input_shape,)


weight_rule("Rescaling")(no_weights)

layout_rule("Rescaling")(elementwise)  # scalars: any layout
