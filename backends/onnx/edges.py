"""The edges of the ONNX graph in PyTorch's natural layout: each layer's inputs moved to the
layout it runs in (a Transpose where the layout pass, ``translator.ir.placement``, puts a
conversion) and the graph outputs given channels first where they are images."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from onnx import helper

from translator.ir import Graph, Node
from translator.ir.layout import tensor_layouts
from translator.ir.placement import output_converts

if TYPE_CHECKING:  # the builder imports this module
    from backends.onnx.model import GraphBuilder


def graph_outputs(graph: GraphBuilder, ir: Graph, tensors: dict[str, list[str]]) -> list[Any]:
    """One graph output per output tensor, named after its layer, in PyTorch's natural
    layout: a Transpose where the layer's physical layout is not that, else an Identity."""
    from backends.onnx.model import DTYPES  # the builder imports this module

    infos = []
    converts = iter(output_converts(ir))
    natural = iter(tensor_layouts(ir).outputs)
    for name in ir.outputs:
        node = ir.node(name)
        # A model input listed as an output cannot reuse its own name.
        plain = len(tensors[name]) == 1 and name not in graph.taken
        for i, tensor in enumerate(tensors[name]):
            out = graph.fresh(name if plain else f"{name}/output_{i}")
            axes, dims = next(converts), next(natural).natural_shape()
            if axes is None:
                graph.nodes.append(helper.make_node("Identity", [tensor], [out], name=out))
            else:
                moved = helper.make_node("Transpose", [tensor], [out], name=out, perm=list(axes))
                graph.nodes.append(moved)
            named = ["batch", *dims[1:]]
            infos.append(helper.make_tensor_value_info(out, DTYPES[node.dtype], named))
    return infos


def converted(graph: GraphBuilder, node: Node, tensors: dict[str, list[str]]) -> list[str]:
    """The node's input tensors, each moved to the layout the node runs in (a Transpose
    where the layout pass puts a conversion)."""
    names = [t for ref in node.inputs for t in tensors[ref]]
    out = []
    for name, axes in zip(names, node.placement.converts, strict=True):
        if axes is None:
            out.append(name)
            continue
        moved = graph.fresh(f"{node.name}/to_{node.placement.runs.kind}")
        graph.nodes.append(helper.make_node("Transpose", [name], [moved], name=moved, perm=axes))
        out.append(moved)
    return out
