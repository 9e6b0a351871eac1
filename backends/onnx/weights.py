"""Reading and writing the weights of a built ONNX model, by IR layer and tensor name.

A layer's weights are the initializers named ``<layer>.<tensor>`` (the IR's ONNX
``WeightSpec`` names; constants live apart under ``<layer>/const/``). A ``ModelProto``'s
initializers are not meant to be edited in place, so ``set_weights`` rebuilds the model
with ``build(graph, weights=...)``. A ``.onnx`` file is read the same way, by name.
"""

from __future__ import annotations

import math
import os
from pathlib import Path
from typing import Any

import numpy as np
import onnx
from onnx import helper, numpy_helper

from backends.base import Built
from backends.onnx.export import graph_outputs, session
from backends.onnx.model import (
    CONST_MARK,
    IR_VERSION,
    NAME,
    OPSET,
    GraphBuilder,
    build,
    build_layers,
    is_weight,
)
from translator.errors import WeightsError
from translator.ir import INPUT, Graph
from translator.ir.layout import tensor_layouts, to_layout
from translator.ir.placement import in_spec_order
from translator.weights.canonical import (
    Weights,
    check_weight_shapes,
    check_weights,
    weight_roles,
)
from translator.weights.maps import ir_names
from translator.weights.validate import ACCEPTED, check_dtype, expected_bytes, float32_weights

SLACK = 64 * 2**20  # bytes a model file holds besides its weights: graph, constants


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


def load_weights_file(graph: Graph, path: str | Path, notes: list[str] | None = None) -> Weights:
    """Weights for ``graph`` from a ``.onnx`` model's ``<layer>.<tensor>`` initializers: the
    file's size bounded first, then every initializer's dims checked against the IR and its
    data's size against its dims before any is converted (external data refused)."""
    source = str(path)
    shapes = [s for n in graph.nodes for s in ir_names(n, NAME).values()]
    limit = expected_bytes(shapes) + SLACK
    if os.path.getsize(path) > limit:
        raise WeightsError(
            source, f"{os.path.getsize(path)} bytes, more than the spec's weights need ({limit})"
        )
    try:
        model = onnx.load(source, load_external_data=False)
    except Exception as exc:  # protobuf raises its own DecodeError, or others, on bad bytes
        raise WeightsError(source, f"not a readable ONNX model ({type(exc).__name__})") from None
    for init in model.graph.initializer:
        _check_name(init, source)
    ours = {f"{n.name}.{w}" for n in graph.nodes for w in ir_names(n, NAME)}
    if not ours <= {i.name for i in model.graph.initializer}:
        # A model from elsewhere (torch.onnx.export): its spec is the one import makes.
        found = _weights_by_import(graph, path)
        return float32_weights(found, weight_roles(graph, NAME), source, notes)
    inits = [i for i in model.graph.initializer if CONST_MARK not in i.name]
    for init in inits:
        check_initializer(init, source)
    names = [i.name for i in inits]
    given = {tuple(i.name.partition(".")[::2]): tuple(int(d) for d in i.dims) for i in inits}
    if len(given) != len(names):
        twice = sorted({n for n in names if names.count(n) > 1})
        raise WeightsError(source, f"initializer '{twice[0]}' appears twice; each tensor once")
    check_weight_shapes(graph, NAME, given, source)
    for init in inits:
        check_data_size(init, source)
    raw: Weights = {}
    for init in inits:
        layer, _, tensor = init.name.partition(".")
        raw.setdefault(layer, {})[tensor] = numpy_helper.to_array(init)
    return float32_weights(raw, weight_roles(graph, NAME), source, notes)


def _check_name(init: onnx.TensorProto, source: str) -> None:
    """An initializer's name is text: protobuf hands back bytes when a damaged file holds
    a name that is not UTF-8."""
    if not isinstance(init.name, str):
        raise WeightsError(source, "an initializer's name is not UTF-8 text; the file is damaged")


def check_initializer(init: onnx.TensorProto, source: str) -> None:
    """Stored in the file, whole, of a dtype a float32 weight can come from."""
    if init.data_location == onnx.TensorProto.EXTERNAL or init.HasField("segment"):
        raise WeightsError(
            source, f"initializer '{init.name}' keeps its data elsewhere; accepted: data inside"
        )
    if init.data_type == onnx.TensorProto.STRING:
        raise WeightsError(source, f"tensor '{init.name}' holds strings; {ACCEPTED}")
    try:
        dtype = helper.tensor_dtype_to_np_dtype(init.data_type)
    except (KeyError, ValueError):
        raise WeightsError(
            source, f"tensor '{init.name}' has unknown ONNX data type {init.data_type}"
        ) from None
    check_dtype(dtype, source, init.name)


def check_data_size(init: onnx.TensorProto, source: str) -> None:
    """The initializer holds exactly the values its dims declare."""
    count = math.prod(init.dims)
    if init.HasField("raw_data"):
        itemsize = helper.tensor_dtype_to_np_dtype(init.data_type).itemsize
        held, wanted, unit = len(init.raw_data), count * itemsize, "bytes"
    else:
        field = helper.tensor_dtype_to_field(init.data_type)
        held, wanted, unit = len(getattr(init, field)), count, "values"
    if held != wanted:
        raise WeightsError(
            source,
            f"initializer '{init.name}' declares dims {tuple(init.dims)} ({wanted} {unit})"
            f" but holds {held} {unit}",
        )


def layer_outputs(built: Built, inputs: dict[str, Any]) -> dict[str, list[np.ndarray]]:
    """Every layer's output(s) at inference, in the spec's layout: the model is rebuilt with
    the same weights, recording each layer's tensors, which become extra graph outputs.
    It reuses ``build``'s own steps (private to model.py) so the probe graph is the built
    graph, operator for operator."""
    graph = built.graph
    builder = GraphBuilder(np.random.default_rng(0), get_weights(built))
    tensors = build_layers(builder, graph, {})
    outputs = graph_outputs(builder, graph, tensors)
    names = [n.name for n in graph.nodes if n.type != INPUT]
    arrays = [np.asarray(inputs[n], dtype=graph.node(n).dtype) for n in graph.inputs]
    natural = to_layout(arrays, tensor_layouts(graph).inputs, True)
    feeds = dict(zip(graph.inputs, natural, strict=True))
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
    values = session(model).run(probes, feeds) if probes else []
    by_tensor = feeds | dict(zip(probes, values, strict=True))
    return {
        name: in_spec_order(graph, graph.node(name), [by_tensor[t] for t in tensors[name]])
        for name in names
    }


def _weights_by_import(graph: Graph, path: str | Path) -> Weights:
    """The weights in ``path`` for ``graph``, a spec imported from that file (see
    ``translator.commands.importing.imported_weights``)."""
    from backends.onnx.importing import Refused, import_file  # importing reads this module
    from translator.commands.importing import SourceError, imported_weights

    accepted = "initializers named <layer>.<tensor>"
    try:
        return dict(imported_weights(import_file(path), graph, str(path), accepted))
    except (SourceError, Refused) as error:  # a damaged file: no model to take weights from
        raise WeightsError(str(path), f"not readable as a model ({error})") from None
