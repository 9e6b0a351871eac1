"""Reading an untrusted ``.onnx`` file for import: sizes checked before data, shapes inferred.

``read_model`` loads the graph without its external data, checks every initializer (a dtype
a weight can come from; data held inside of exactly the size its dims declare; data kept
outside in a regular file beside the model, under its directory, long enough for its dims)
and only then reads the external data. Shapes are inferred by onnx (``data_prop``: shape
arithmetic is followed), so a recogniser knows every tensor's static shape. ``Source`` is
what the recognisers see: the graph, its inputs and outputs, its readers and constants.
"""

from __future__ import annotations

import math
import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import onnx
from onnx import helper, numpy_helper
from onnx.external_data_helper import load_external_data_for_model

from backends.onnx.model import FLOAT_TYPES, FROZEN_KEY
from backends.onnx.weights import check_data_size, check_initializer
from translator.commands.importing import SourceError
from translator.errors import WeightsError

Shape = tuple[int | None, ...]
Named = tuple[int | str | None, ...]  # a shape with onnx's names of unknown sizes
DTYPES = {onnx.TensorProto.FLOAT: "float32", onnx.TensorProto.INT32: "int32"}
DTYPES[onnx.TensorProto.INT64] = "int64"
NUMBERED = re.compile(r"_\d+$")  # TensorFlow's number of a scope entered again
GENERIC_NAMES = {"", "main_graph", "torch_jit", "torch-jit-export", "tf2onnx"}


@dataclass(frozen=True)
class SpecInput:
    """A graph input: its ONNX name, spec name, full ONNX shape (batch first), dtype."""

    onnx: str
    name: str
    full: Shape
    dtype: str

    @property
    def image(self) -> bool:
        """An image or volume (batch, channels, *spatial): its layout is the spec's choice."""
        return len(self.full) >= 4

    def entry(self, data_format: str) -> dict[str, Any]:
        shape = list(self.full[1:])
        if self.image and data_format == "channels_last":
            shape = [*shape[1:], shape[0]]
        entry: dict[str, Any] = {"name": self.name, "shape": shape}
        if self.dtype != "float32":
            entry["dtype"] = self.dtype
        return entry


@dataclass
class Source:
    """The model as the recognisers read it."""

    model: onnx.ModelProto
    name: str
    inputs: list[SpecInput]
    outputs: list[str]
    shapes: dict[str, Shape]
    readers: dict[str, list[onnx.NodeProto]] = field(default_factory=dict)
    producers: dict[str, onnx.NodeProto] = field(default_factory=dict)
    initializers: dict[str, onnx.TensorProto] = field(default_factory=dict)
    # Tensors an input reaches (Shape and Size of one included): never constants, so asking
    # for their value costs nothing and recurses no further.
    live: set[str] = field(default_factory=set)
    containers: set[str] = field(default_factory=set)  # modules other modules lie in
    dtypes: dict[str, str] = field(default_factory=dict)  # a tensor's spec dtype, if a spec's
    # Inferred shapes with the sizes onnx names ('b', 't': an input's dynamic axes) kept as
    # names, and values computed from them (``backends.onnx.sized_reading``'s cache).
    named: dict[str, Named] = field(default_factory=dict)
    sized: dict[str, Any] = field(default_factory=dict)
    _values: dict[str, np.ndarray | None] = field(default_factory=dict)

    def scope(self, node: onnx.NodeProto) -> str | None:
        """The module a node's layer is named after, from the module stack torch.onnx's
        dynamo exporter records: the innermost one; but an operation written in the forward
        of a module holding other modules (a block's residual ``add_7``) is that module's
        own (``transformer.h.0.add``), as the PyTorch importer names a free operation."""
        modules = scopes(node)
        if len(modules) < 2:
            return None
        module, operation = modules[-2:]
        if module in self.containers and HIERARCHY in {p.key for p in node.metadata_props}:
            return f"{module}.{re.sub(r'_[0-9]+$', '', operation)}"
        return module

    def reads(self, node: onnx.NodeProto) -> list[str]:
        """The tensors a node reads: its inputs, then what its subgraphs read from outside."""
        return [*node.input, *outer_names(node)]

    def path(self, node: onnx.NodeProto) -> list[str]:
        """A node's name's scopes: tf2onnx's of a traced ``tf.function``, where TensorFlow
        numbers every scope entered again (the model's ``model_1/dense_1/MatMul``), without
        that number (``model/dense/MatMul``: the Keras layer's own name)."""
        parts = [p for p in node.name.split("/") if p]
        if self.model.producer_name != "tf2onnx" or len(parts) < 3:
            return parts
        if not NUMBERED.search(parts[0]):
            return parts
        return [NUMBERED.sub("", p) for p in parts[:-1]] + parts[-1:]

    def stand_in(self, tensor: str) -> tuple[Shape | None, str]:
        """An unclaimed node's output as a partial spec's stand-in input: its shape (batch
        aside) and dtype, for one of a known rank above 1 and a spec's dtype; else None."""
        shape, dtype = self.shapes.get(tensor), self.dtypes.get(tensor, "")
        return (shape[1:], dtype) if tensor and shape and len(shape) > 1 and dtype else (None, "")

    def is_const(self, tensor: str) -> bool:
        return tensor in self.initializers or (
            tensor in self.producers and self.producers[tensor].op_type == "Constant"
        )

    def is_weight(self, tensor: str) -> bool:
        init = self.initializers.get(tensor)
        return init is not None and init.data_type in FLOAT_TYPES and math.prod(init.dims) > 1

    def size(self, tensor: str) -> int:
        return math.prod(self.initializers[tensor].dims) if tensor in self.initializers else 0

    def constant(self, tensor: str) -> np.ndarray | None:
        """An initializer's or a constant node's value (a node of constants only is
        evaluated by onnx's reference runtime), None for a tensor known at run time only."""
        if tensor in self.live:
            return None
        if tensor not in self._values:
            self._values[tensor] = self._evaluate(tensor)
        return self._values[tensor]

    def _evaluate(self, tensor: str) -> np.ndarray | None:
        if tensor in self.initializers:
            return numpy_helper.to_array(self.initializers[tensor])
        node = self.producers.get(tensor)
        if node is None:  # a graph input; a Shape of one is data too (its input has no value)
            return None
        inputs = {t: self.constant(t) for t in node.input if t}
        if any(v is None for v in inputs.values()):
            return None
        from onnx.reference import ReferenceEvaluator

        feeds = [numpy_helper.from_array(np.asarray(v), t) for t, v in inputs.items()]
        outputs = [helper.make_empty_tensor_value_info(t) for t in node.output]
        graph = helper.make_graph([node], "constant", [], outputs, feeds)
        model = helper.make_model(graph, opset_imports=self.model.opset_import)
        values = list(ReferenceEvaluator(model).run(None, {}))
        return np.asarray(values[list(node.output).index(tensor)])


# Where torch.onnx's dynamo exporter records a node's modules, ``"['', 'features', 'conv2d']"``
# (the last the operation), and their classes.
NAME_SCOPES, HIERARCHY = "pkg.torch.onnx.name_scopes", "pkg.torch.onnx.class_hierarchy"


def scopes(node: onnx.NodeProto) -> list[str]:
    """The modules torch.onnx's dynamo exporter recorded for a node, then its operation."""
    recorded = {p.key: p.value for p in node.metadata_props}.get(NAME_SCOPES, "")
    return [s for s in re.findall(r"'([^']*)'", recorded) if s]


def outer_names(node: onnx.NodeProto) -> list[str]:
    """The tensors of the enclosing graph a node's subgraphs (a Loop's body, an If's branches)
    read by name, not through the node's inputs."""
    found: list[str] = []
    for attribute in node.attribute:
        graphs = [attribute.g] if attribute.type == onnx.AttributeProto.GRAPH else attribute.graphs
        for graph in graphs:
            inner = {v.name for v in [*graph.input, *graph.initializer]}
            inner.update(t for n in graph.node for t in n.output)
            used = [t for n in graph.node for t in [*n.input, *outer_names(n)]]
            used += [v.name for v in graph.output]
            found += [t for t in used if t and t not in inner and t not in found]
    return found


def _named(value: onnx.ValueInfoProto) -> Named | None:
    if not value.type.tensor_type.HasField("shape"):
        return None
    dims = value.type.tensor_type.shape.dim
    return tuple(d.dim_value if d.HasField("dim_value") else (d.dim_param or None) for d in dims)


def _shape(value: onnx.ValueInfoProto) -> Shape | None:
    named = _named(value)
    return None if named is None else tuple(d if isinstance(d, int) else None for d in named)


def _external_size(init: onnx.TensorProto, base: Path, path: str) -> None:
    """External data must lie in a regular file under the model's directory, long enough."""
    info = {entry.key: entry.value for entry in init.external_data}
    location = info.get("location", "")
    target = (base / location).resolve()
    if not location or Path(location).is_absolute() or base.resolve() not in target.parents:
        raise SourceError(
            f"{path}: tensor '{init.name}' keeps its data at {location!r}; accepted: a file"
            " in the model's directory"
        )
    if not target.is_file():
        raise SourceError(f"{path}: tensor '{init.name}' keeps its data in {location!r}, not found")
    wanted = math.prod(init.dims) * helper.tensor_dtype_to_np_dtype(init.data_type).itemsize
    offset, length = int(info.get("offset", 0)), int(info.get("length", wanted))
    if length != wanted or offset + wanted > os.path.getsize(target):
        raise SourceError(
            f"{path}: tensor '{init.name}' declares dims {tuple(init.dims)} ({wanted} bytes)"
            f" but its data file holds {length} bytes at {offset}"
        )


def _check(model: onnx.ModelProto, path: str) -> None:
    base = Path(path).parent
    for init in model.graph.initializer:
        external = init.data_location == onnx.TensorProto.EXTERNAL
        try:
            if external:
                _external_size(init, base, path)
                continue
            check_initializer(init, path)
            check_data_size(init, path)
        except WeightsError as exc:
            raise SourceError(str(exc)) from None


def _identifier(name: str) -> str:
    cleaned = re.sub(r"\W", "_", name).strip("_")
    return cleaned if cleaned and not cleaned[0].isdigit() else f"x_{cleaned}"


def _inputs(model: onnx.ModelProto, shapes: dict[str, Shape], path: str) -> list[SpecInput]:
    inits = {i.name for i in model.graph.initializer}
    out = []
    for value in model.graph.input:
        if value.name in inits:
            continue  # old exporters list initializers as inputs too
        dtype = DTYPES.get(value.type.tensor_type.elem_type)
        full = shapes.get(value.name)
        if dtype is None or not full:
            raise SourceError(
                f"{path}: input '{value.name}' is not a float32, int32 or int64 tensor of"
                " known rank; accepted: such inputs, batch first"
            )
        out.append(SpecInput(value.name, _identifier(value.name), full, dtype))
    return out


def read_model(path: str | Path) -> Source:
    """The model at ``path``, checked and with its shapes inferred (see the module doc)."""
    try:
        model = onnx.load(str(path), load_external_data=False)
    except Exception as exc:  # protobuf raises its own DecodeError, or others, on bad bytes
        raise SourceError(
            f"{path}: not a readable ONNX model ({type(exc).__name__}); accepted: a .onnx file"
        ) from None
    _check(model, str(path))
    try:
        inferred = onnx.shape_inference.infer_shapes(model, data_prop=True)
    except Exception as exc:  # onnx raises InferenceError or others for a broken graph
        raise SourceError(f"{path}: onnx cannot infer its shapes ({type(exc).__name__})") from None
    load_external_data_for_model(model, str(Path(path).parent))
    graph = inferred.graph
    values = [*graph.input, *graph.value_info, *graph.output]
    shapes = {v.name: s for v in values if (s := _shape(v)) is not None}
    types = {v.name: DTYPES.get(v.type.tensor_type.elem_type, "") for v in values}
    name = model.graph.name if model.graph.name not in GENERIC_NAMES else Path(path).stem
    inputs = _inputs(model, shapes, str(path))
    source = Source(model, _identifier(name), inputs, [o.name for o in graph.output], shapes)
    source.initializers = {i.name: i for i in model.graph.initializer}
    source.dtypes = types
    source.named = {v.name: n for v in values if (n := _named(v)) is not None}
    source.live = {i.onnx for i in inputs}
    for node in model.graph.node:
        for tensor in source.reads(node):
            source.readers.setdefault(tensor, []).append(node)
        for tensor in node.output:
            source.producers[tensor] = node
        if any(t in source.live for t in source.reads(node)):
            source.live.update(node.output)
        source.containers.update(scopes(node)[:-2])
    return source


def frozen_layers(model: onnx.ModelProto) -> set[str]:
    """The layer names a translator export recorded as frozen (``FROZEN_KEY``; none for
    other files): ONNX has no trainable flag, the import reads them as ``trainable: false``."""
    recorded = {p.key: p.value for p in model.metadata_props}.get(FROZEN_KEY, "")
    return {name for name in recorded.split(",") if name}


def unrecognised(node: onnx.NodeProto) -> str:
    """Why a node no recogniser is registered for is not read: an operator of the standard
    domain that ONNX does not define (an operator the exporter could not convert, left in:
    tf2onnx's ``Erfc``) is said to be none, which no ONNX reader can compute."""
    if node.domain in ("", "ai.onnx") and not onnx.defs.has(node.op_type):
        return (
            f"'{node.op_type}' is no ONNX operator: the exporter left it, and no ONNX reader"
            " (onnxruntime included) can compute it"
        )
    return "no recogniser for this ONNX operator"
