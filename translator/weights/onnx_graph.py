"""An ONNX file's tensors, attributed to the spec's layers by name, by scope or by order.

An ONNX exporter keeps a parameter's name when it stores the parameter as it is
(``layers.h_1_attn.in_proj_bias``); one that transforms it first (a transpose or a folded
BatchNorm, constant-folded) names the result after the operator (``onnx::MatMul_374``,
``val_28``). Such a tensor is attributed to the layer of the operators that read it: the
TorchScript exporter names operators by module path (``/h_1_attn/MatMul``), the dynamo
exporter records it in ``pkg.torch.onnx.name_scopes`` and tf2onnx in the node name
(``model/lstm/...``). Convolutions nobody names are matched in order: the file's n-th Conv
is the spec's n-th convolution (and so for LSTM, GRU, RNN). Constants (``Constant`` nodes) count like initializers;
Loop and If bodies are read too. Only the protobuf is parsed (no external data is read).
"""

from __future__ import annotations

import ast
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from translator.errors import WeightsError
from translator.ir import Graph, Node
from translator.ops.recurrent import GATES
from translator.spec.schema import SCHEMAS
from translator.weights.inventory import (
    FileTensor,
    Inventory,
    check_size,
    named_tensor,
    split_name,
)

SCOPES_KEY = "pkg.torch.onnx.name_scopes"  # the dynamo exporter's module path of a node
# ONNX's recurrent operators are named as the layer types, except the one-gate RNN.
RECURRENT_OPS = {("RNN" if gates == 1 else type_): type_ for type_, gates in GATES.items()}
# Who wrote the file (its producer_name) → whose tensors the spec predicts for it.
PRODUCERS = {"pytorch": "torch", "tf2onnx": "keras", "model-spec-translator": "onnx"}


def _nodes(graph: Any) -> Iterator[Any]:
    """Every node of ``graph`` and of the subgraphs (Loop, If, Scan bodies) inside it."""
    for node in graph.node:
        yield node
        for attr in node.attribute:
            for sub in (attr.g, *attr.graphs) if attr.HasField("g") else attr.graphs:
                yield from _nodes(sub)


def _initializers(graph: Any) -> Iterator[Any]:
    yield from graph.initializer
    for node in graph.node:
        for attr in node.attribute:
            for sub in (attr.g, *attr.graphs) if attr.HasField("g") else attr.graphs:
                yield from _initializers(sub)


def _floating(data_type: int) -> bool:
    from onnx import TensorProto

    return data_type in (
        TensorProto.FLOAT,
        TensorProto.DOUBLE,
        TensorProto.FLOAT16,
        TensorProto.BFLOAT16,
    )


def _constant(node: Any) -> tuple[tuple[int, ...], bool] | None:
    """A ``Constant`` node's (shape, floating), or None for one that holds no tensor."""
    for attr in node.attribute:
        if attr.name == "value":
            return tuple(int(d) for d in attr.t.dims), _floating(attr.t.data_type)
        if attr.name in ("value_floats", "value_ints"):
            return (len(attr.floats) + len(attr.ints),), attr.name == "value_floats"
        if attr.name in ("value_float", "value_int"):
            return (), attr.name == "value_float"
    return None


def scope_names(graph: Graph, producer: str) -> dict[str, str]:
    """Name in an operator's scope → spec layer. tf2onnx traces the Keras model inside a
    ``tf.function``, where Keras 3 names each layer's scope ``<layer>_1`` (its second call)."""
    names = [n.name for n in graph.nodes]
    if producer == "tf2onnx":
        return {f"{name}_1": name for name in names}
    return {name: name for name in names}


def node_layer(node: Any, layers: dict[str, str]) -> str | None:
    """The spec layer whose module made ``node``: from the dynamo exporter's name scopes, or
    from the first component of the node's name that is a layer's name."""
    for prop in node.metadata_props:
        if prop.key == SCOPES_KEY:
            try:
                scopes = ast.literal_eval(prop.value)
            except (ValueError, SyntaxError):
                scopes = []
            for scope in scopes if isinstance(scopes, list) else []:
                head = str(scope).removeprefix("layers.").split(".")[0]
                if head in layers:
                    return layers[head]
    parts = [p for p in re.split(r"[/.:]", node.name) if p]
    return next((layers[p] for p in parts[:-1] or parts if p in layers), None)


def _load(path: str | Path) -> Any:
    import onnx

    try:
        return onnx.load(str(path), load_external_data=False)
    except Exception as exc:  # protobuf raises its own DecodeError, or others, on bad bytes
        raise WeightsError(
            str(path), f"not a readable ONNX model ({type(exc).__name__}); accepted: a .onnx file"
        ) from None


def _exporter(model: Any) -> tuple[str, str]:
    """(whose prediction the file is compared with, who wrote it)."""
    producer = model.producer_name or "unknown producer"
    framework = PRODUCERS.get(producer, "onnx")
    # tf2onnx writes "<version> <git commit>", the commit "None" in a release
    said = f"{producer} {model.producer_version.removesuffix(' None')}".strip()
    if producer == "pytorch":
        dynamo = any(p.key == SCOPES_KEY for n in model.graph.node for p in n.metadata_props)
        said += " torch.onnx.export(dynamo=True)" if dynamo else " torch.onnx.export(dynamo=False)"
    return framework, said


def _aliases(model: Any) -> dict[str, str]:
    """An Identity's output → its input: how the exporters rename a deduplicated tensor."""
    return {n.output[0]: n.input[0] for n in _nodes(model.graph) if n.op_type == "Identity"}


def _readers(model: Any, layers: dict[str, str]) -> dict[str, list[str | None]]:
    """Tensor name → the layer of each node reading it (through Identity nodes too)."""
    readers: dict[str, list[str | None]] = {}
    alias = _aliases(model)
    for node in _nodes(model.graph):
        layer = node_layer(node, layers)
        for name in node.input:
            seen = set()
            while name and name not in seen:  # Identity chains end at the stored tensor
                seen.add(name)
                readers.setdefault(name, []).append(layer)
                name = alias.get(name, "")
    return readers


def _attribute(t: FileTensor, readers: list[str | None], layers: dict[str, str]) -> FileTensor:
    """``t`` attributed to a layer by the scope in its name (``<layer>/const/shape``,
    tf2onnx's ``model/lstm/zeros:0``) or by the operators reading it."""
    if t.layer is not None:
        return t
    parts = [p for p in re.split(r"[/:]", t.name) if p]
    scoped = [layers[p] for p in parts[:-1] if p in layers]
    layer = scoped[0] if scoped else next((r for r in readers if r is not None), None)
    if layer is None:
        return t
    return FileTensor(t.name, t.shape, t.floating, layer, None, "scope")


def _stored(model: Any, graph: Graph) -> list[FileTensor]:
    """Every initializer and Constant of the file, attributed by name where it can be."""
    found = [
        named_tensor(i.name, tuple(int(d) for d in i.dims), graph, _floating(i.data_type))
        for i in _initializers(model.graph)
    ]
    for node in _nodes(model.graph):
        held = _constant(node) if node.op_type == "Constant" else None
        if held is not None:
            found.append(FileTensor(node.output[0], held[0], held[1]))
    return found


def _borrowed(
    model: Any, tensors: list[FileTensor], layers: dict[str, str], graph: Graph
) -> dict[str, list[tuple[int, ...]]]:
    """Layer → shapes of the stored tensors it reads standing in for tensors of its own (the
    exporters' deduplicated initializers): an Identity renaming a stored tensor to another
    tensor's name (``layers.h_2_ln_1.weight``), its operators reading another layer's tensor
    (once per name read), or one operator reading the same stored tensor in two inputs (a
    BatchNorm as initialized: the mean read from the zero bias, the variance from the ones)."""
    # Weights only: a scalar or an integer shape read by several layers is a helper, shared.
    owner = {t.name: t for t in tensors if t.layer is not None and t.floating and t.shape}
    alias = _aliases(model)
    out: dict[str, list[tuple[int, ...]]] = {}
    counted: set[tuple[str, str]] = set()  # (layer, the name it reads): each counted once
    for node in _nodes(model.graph):
        if node.op_type == "Identity" and node.output:
            _renamed(node, owner.get(_resolve(node.input[0], alias)), graph, out)
            continue
        layer = node_layer(node, layers)
        in_node: set[str] = set()
        for read in node.input if layer is not None else ():
            stored = owner.get(_resolve(read, alias))
            renamed = read in alias and split_name(read, graph) is not None
            if stored is None or renamed:  # a rename is counted at its Identity
                continue
            elsewhere = stored.layer != layer and (str(layer), read) not in counted
            if stored.name in in_node or elsewhere:
                counted.add((str(layer), read))
                out.setdefault(str(layer), []).append(stored.shape)
            in_node.add(stored.name)
    return out


def _renamed(
    node: Any, stored: FileTensor | None, graph: Graph, out: dict[str, list[tuple[int, ...]]]
) -> None:
    """An Identity whose output names a layer's tensor other than the one it reads."""
    target = named_tensor(node.output[0], (), graph, True)
    if stored is None or target.layer is None:
        return
    if (stored.layer, stored.named) != (target.layer, target.named):
        out.setdefault(target.layer, []).append(stored.shape)


def _resolve(name: str, alias: dict[str, str]) -> str:
    """The stored tensor an Identity chain ends at."""
    seen = set()
    while name in alias and name not in seen:
        seen.add(name)
        name = alias[name]
    return name


def _in_order(op: str, node: Node) -> bool:
    """Whether ONNX operator ``op`` implements ``node`` (or the layer it wraps)."""
    cell = node.inner or node
    if op == "Conv":
        return SCHEMAS[node.type].family == "conv"
    return RECURRENT_OPS.get(op) == cell.type


def _by_order(model: Any, tensors: list[FileTensor], graph: Graph) -> list[FileTensor]:
    """Weights nobody named or scoped: the file's n-th Conv (LSTM, GRU, RNN) is the spec's
    n-th convolution (LSTM, GRU, SimpleRNN, or Bidirectional one), when the counts agree."""
    index = {t.name: i for i, t in enumerate(tensors)}
    out = list(tensors)
    for op in ("Conv", *RECURRENT_OPS):
        layers = [n.name for n in graph.layers if _in_order(op, n)]
        nodes = [n for n in _nodes(model.graph) if n.op_type == op]
        if len(nodes) != len(layers):
            continue
        for node, layer in zip(nodes, layers, strict=True):
            for name in node.input[1:]:
                i = index.get(name)
                if i is not None and out[i].layer is None:
                    t = out[i]
                    out[i] = FileTensor(t.name, t.shape, t.floating, layer, None, "order")
    return out


def read_onnx(path: str | Path, graph: Graph) -> Inventory:
    """Every initializer and constant of an ONNX file, attributed to ``graph``'s layers."""
    check_size(path, graph)  # before the protobuf is parsed: who wrote it is not known yet
    model = _load(path)
    framework, exporter = _exporter(model)
    layers = scope_names(graph, model.producer_name)
    readers = _readers(model, layers)
    tensors = [_attribute(t, readers.get(t.name, []), layers) for t in _stored(model, graph)]
    tensors = _by_order(model, tensors, graph)
    inventory = Inventory(str(path), "onnx", framework, exporter, tensors)
    inventory.dynamo = exporter.endswith("dynamo=True)")
    for node in _nodes(model.graph):
        layer = node_layer(node, layers)
        if layer is not None:
            inventory.ops.setdefault(layer, set()).add(node.op_type)
    inventory.borrowed = _borrowed(model, tensors, layers, graph)
    loops = (node_layer(n, layers) for n in _nodes(model.graph) if n.op_type in ("Loop", "Scan"))
    inventory.loops = {layer for layer in loops if layer is not None}
    return inventory
