"""Reading and writing the weights of a built ONNX model, by IR layer and tensor name.

A layer's weights are the initializers named ``<layer>.<tensor>`` (the IR's ONNX
``WeightSpec`` names; constants live apart under ``<layer>/const/``). A ``ModelProto``'s
initializers are not meant to be edited in place, so ``set_weights`` rebuilds the model
with ``build(graph, weights=...)``. A ``.onnx`` file is read the same way, by name.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import onnx
from onnx import helper, numpy_helper

from backends.base import Built
from backends.onnx.model import (
    IR_VERSION,
    OPSET,
    GraphBuilder,
    _build_node,
    _outputs,
    _session,
    build,
    is_weight,
)
from translator.errors import WeightsError
from translator.ir import INPUT, Graph
from translator.weights.canonical import Weights, check_weights


def _initializer_weights(model: onnx.ModelProto) -> Weights:
    out: Weights = {}
    for init in model.graph.initializer:
        if is_weight(init):
            layer, _, tensor = init.name.partition(".")
            out.setdefault(layer, {})[tensor] = numpy_helper.to_array(init).copy()
    return out


def get_weights(built: Built) -> Weights:
    """Every layer with weights → {initializer name after ``<layer>.``: numpy copy}."""
    return _initializer_weights(built.model)


def set_weights(built: Built, weights: Weights) -> Built:
    """A new ``Built`` holding exactly ``weights`` (checked against the IR first)."""
    check_weights(built.graph, "onnx", weights, "onnx weights")
    return build(built.graph, weights=weights)


def load_weights_file(graph: Graph, path: str | Path) -> Weights:
    """Weights for ``graph`` from a ``.onnx`` model's ``<layer>.<tensor>`` initializers."""
    try:
        model = onnx.load(str(path))
    except Exception as exc:
        raise WeightsError(str(path), f"not a readable ONNX model ({type(exc).__name__})") from None
    return _initializer_weights(model)


def layer_outputs(built: Built, inputs: dict[str, Any]) -> dict[str, list[np.ndarray]]:
    """Every layer's output(s) at inference, in the spec's layout: the model is rebuilt with
    the same weights, recording each layer's tensors, which become extra graph outputs.
    It reuses ``build``'s own steps (private to model.py) so the probe graph is the built
    graph, operator for operator."""
    graph = built.graph
    builder = GraphBuilder(np.random.default_rng(0), get_weights(built))
    tensors: dict[str, list[str]] = {}
    for node in graph.nodes:
        args = [t for ref in node.inputs for t in tensors[ref]]
        tensors[node.name] = _build_node(builder, node, args, {})
    outputs = _outputs(builder, graph, tensors)
    names = [n.name for n in graph.nodes if n.type != INPUT]
    feeds = {n: np.asarray(inputs[n], dtype=graph.node(n).dtype) for n in graph.inputs}
    # A layer that adds no operator (Dropout) may hand on a graph input: read it from feeds.
    probes = list(dict.fromkeys(t for name in names for t in tensors[name] if t not in feeds))
    extra = [helper.make_empty_tensor_value_info(t) for t in probes]
    body = helper.make_graph(
        builder.nodes, graph.name, builder.inputs, outputs + extra, builder.initializers
    )
    model = helper.make_model(
        body, opset_imports=[helper.make_opsetid("", OPSET)], ir_version=IR_VERSION
    )
    # An empty output list means "every output" to onnxruntime: ask only when there are probes.
    values = _session(model).run(probes, feeds) if probes else []
    by_tensor = feeds | dict(zip(probes, values, strict=True))
    return {name: [by_tensor[t] for t in tensors[name]] for name in names}
