"""Importing a saved Keras model: a functional ``keras.Model`` → a spec and its weights.

The model is loaded with ``safe_mode=True`` (no Lambda layers, no arbitrary code). Its
graph is read from the layers' own call records: every call that leads to an output, in
call order; a layer called again becomes ``{share: <layer>}``. Each layer becomes a spec
layer by the importer registered for its Keras class in its family module
(``@IMPORTERS.register("Dense")``), most of them ``by_schema``: the spec's arguments *are*
Keras's, so the layer's ``get_config()`` values for the schema's arguments are taken, and
only those that differ from the schema default are written. A configuration the spec cannot
express (a Keras argument outside the schema set away from its default, a frozen layer, a
dtype policy other than float32) leaves the layer unclaimed, with the reason; so does a
class no importer is registered for. Keras's layer names are kept, so weights line up.
"""

from __future__ import annotations

import inspect
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import keras
import numpy as np

from backends.keras.model import NAME
from translator.commands.importing import (
    SPEC_DATA_FORMAT,
    ExampleInput,
    Imported,
    SourceError,
    Unclaimed,
    plain,
    written_args,
)
from translator.errors import SpecError, UnsupportedInBackend
from translator.ir import Graph
from translator.registry import Registry
from translator.spec.schema import SCHEMAS
from translator.spec.values import IDENTIFIER
from translator.weights.canonical import Weights

# An importer takes a Keras layer and returns its spec layer: ``type`` and its arguments
# (``name`` and ``inputs`` are added by the walk). It raises ``UnsupportedInBackend`` with a
# reason for a configuration the spec cannot express.
Importer = Callable[[Any], dict[str, Any]]
IMPORTERS: Registry[Importer] = Registry("Keras importer")

# Keras arguments that shape training only (initial values, penalties, constraints): the
# imported weights replace the first, and a spec describes inference, so none is carried.
TRAINING_ONLY = re.compile(r"_(initializer|regularizer|constraint)$")
ALWAYS_THERE = {"name", "trainable", "dtype"}
# Keras arguments that change nothing a spec describes (specs have no masks).
NO_EFFECT = {"zero_output_for_mask"}
INPUT_DTYPES = ("float32", "int32", "int64")  # a spec's input dtypes


def refuse(layer: Any, reason: str) -> UnsupportedInBackend:
    """The error an importer raises for a layer the spec cannot express; ``reason`` says why."""
    return UnsupportedInBackend(NAME, type(layer).__name__, reason)


def _init_defaults(layer: Any) -> dict[str, Any]:
    """The defaults of the layer class's ``__init__`` arguments."""
    parameters = inspect.signature(type(layer).__init__).parameters.values()
    return {p.name: p.default for p in parameters if p.default is not inspect.Parameter.empty}


def _check_beyond_schema(layer: Any, config: dict[str, Any], known: set[str]) -> None:
    """Refuse a Keras argument the spec has no name for, unless it is at Keras's default."""
    defaults = _init_defaults(layer)
    for key in sorted(set(config) - known - ALWAYS_THERE - NO_EFFECT):
        value = config[key]
        if TRAINING_ONLY.search(key) or value is None or value is False:
            continue
        if value == SPEC_DATA_FORMAT:  # Keras writes its resolved default, not None
            continue
        if key in defaults and plain(value) == plain(defaults[key]):
            continue
        raise refuse(layer, f"{key}={value!r} has no spec equivalent")


def _check_layer(layer: Any, config: dict[str, Any]) -> None:
    """Refuse a dtype policy other than float32."""
    policy = getattr(layer, "dtype_policy", None)
    if policy is not None and policy.name != "float32":
        raise refuse(layer, f"dtype policy {policy.name!r}; a spec computes in float32")


def schema_args(layer: Any, type_: str, config: dict[str, Any] | None = None) -> dict[str, Any]:
    """The spec layer ``{type, args...}`` from the config values of the schema's arguments,
    each written only where it differs from the schema default."""
    config = layer.get_config() if config is None else config
    schema = SCHEMAS[type_]
    _check_layer(layer, config)
    _check_beyond_schema(layer, config, set(schema.arg_index))
    try:
        return {"type": type_, **written_args(type_, config)}
    except SpecError as exc:  # a value the schema refuses (an activation it does not know)
        raise refuse(layer, f"{exc.message}; {exc.accepted}") from None


def by_schema(layer: Any) -> dict[str, Any]:
    """A layer whose Keras class is the spec type of the same name, arguments as they are."""
    return schema_args(layer, type(layer).__name__)


def import_layer(layer: Any) -> dict[str, Any]:
    """The spec layer for ``layer`` by its class's importer (wrappers use it for the inner
    layer); a class without one is refused."""
    importer = IMPORTERS.get(type(layer).__name__)
    if importer is None:
        raise refuse(layer, "no importer for this Keras class")
    spec = importer(layer)
    if not layer.trainable and layer.weights:  # frozen: its weights do not train
        spec["trainable"] = False
    return spec


def load(path: str | Path) -> Any:
    """The model at ``path``, loaded by Keras in safe mode, uncompiled."""
    try:
        return keras.saving.load_model(path, compile=False, safe_mode=True)
    except Exception as exc:  # Keras raises ValueError, TypeError, OSError ... here
        said = " ".join(str(exc).split()).split(". ")[0] or type(exc).__name__
        raise SourceError(
            f"{path}: Keras cannot load it in safe mode ({said[:200]}); accepted: a .keras or"
            " .h5 model of built-in layers (no Lambda layers, no custom code)"
        ) from None


def import_file(path: str | Path) -> Imported:
    """Read the saved model at ``path`` into a spec, its unclaimed layers and its weights."""
    model = load(path)
    spec, refused = read_graph(model, import_layer)
    return Imported(NAME, spec, refused, lambda graph: model_weights(model, graph))


def import_object(model: Any, inputs: list[ExampleInput], source: str) -> Imported:
    """A Keras model from a factory: read as a loaded one (its inputs are its own; a model
    not yet built is built on ``inputs``' shapes first)."""
    if not model.built and inputs:
        model.build(*[(None, *i.shape[1:]) for i in inputs])
    if not getattr(model, "inputs", None):
        raise SourceError(
            f"{source}: the Keras model has no inputs yet; accepted: a functional or built"
            " Sequential model (keras.Input first), or --input NAME=SHAPE"
        )
    spec, refused = read_graph(model, import_layer)
    return Imported(NAME, spec, refused, lambda graph: model_weights(model, graph))


def model_weights(model: Any, graph: Graph) -> Weights:
    """``{layer: {IR tensor name: array}}`` from the model's variables, shaped as the IR says."""
    # Imported here: export reads the family modules' tables, and they register importers.
    from backends.keras.export import variable_map

    variables = variable_map(graph, {layer.name: layer for layer in model.layers})
    shapes = {n.name: {w.name: w.shape for w in n.weights.get(NAME, ())} for n in graph.nodes}
    return {
        layer: {name: np.reshape(v.numpy(), shapes[layer][name]) for name, v in tensors.items()}
        for layer, tensors in variables.items()
    }


def unclaimed(layer: Any, reason: str) -> Unclaimed:
    """A layer listed as not imported, with its parameter count (an operation has none)."""
    built = getattr(layer, "built", False) and hasattr(layer, "count_params")
    params = int(layer.count_params()) if built else 0
    return Unclaimed(layer.name, type(layer).__name__, params, reason)


def _history(tensor: Any) -> tuple[Any, int, int]:
    """The (operation, call index, output index) that made a symbolic tensor. Keras has no
    public API for a functional model's graph: it keeps it in ``_keras_history`` and each
    operation's ``_inbound_nodes`` (one per call), which its own ``Functional`` reads."""
    operation, call, index = tensor._keras_history
    return operation, call, index


def call_order(model: Any) -> list[tuple[Any, int]]:
    """Every (operation, call index) that leads to an output, each after the calls it reads;
    the model's inputs first, in the model's order."""
    order: list[tuple[Any, int]] = []
    seen: set[tuple[int, int]] = set()

    def visit(tensor: Any) -> None:
        operation, call, _ = _history(tensor)
        if (id(operation), call) in seen:
            return
        seen.add((id(operation), call))
        for read in operation._inbound_nodes[call].arguments.keras_tensors:
            visit(read)
        order.append((operation, call))

    for tensor in keras.tree.flatten(model.inputs) + keras.tree.flatten(model.outputs):
        visit(tensor)
    return order


@dataclass
class _Reader:
    """The spec read so far: inputs, layers, the spec name of each call, what is refused."""

    importer: Importer
    inputs: list[dict[str, Any]] = field(default_factory=list)
    layers: list[dict[str, Any]] = field(default_factory=list)
    names: dict[tuple[int, int], str] = field(default_factory=dict)  # (id, call) → spec name
    first: dict[int, str] = field(default_factory=dict)  # id → name of its first call
    refused: list[Unclaimed] = field(default_factory=list)
    taken: set[str] = field(default_factory=set)

    def add(self, operation: Any, call: int) -> None:
        if isinstance(operation, keras.layers.InputLayer):
            self._input(operation, call)
            return
        entry = self._entry(operation)
        if entry is None:
            return
        self.names[(id(operation), call)] = entry["name"]
        reads = operation._inbound_nodes[call].arguments.keras_tensors
        refs = self.refs(reads, operation)
        if refs != [self._previous()]:
            entry["inputs"] = refs[0] if len(refs) == 1 else refs
        self.layers.append(entry)

    def _input(self, layer: Any, call: int) -> None:
        config = layer.get_config()
        entry = {"name": layer.name, "shape": plain(config["batch_shape"][1:])}
        if config["dtype"] not in INPUT_DTYPES:
            reason = f"dtype {config['dtype']!r}; accepted: {', '.join(INPUT_DTYPES)}"
            self.refused.append(unclaimed(layer, reason))
        if config["dtype"] != "float32":
            entry["dtype"] = config["dtype"]
        self.inputs.append(entry)
        self.names[(id(layer), call)] = layer.name

    def _entry(self, operation: Any) -> dict[str, Any] | None:
        """The spec layer of a first call, ``{share: ...}`` for a later one, or None when
        the operation is refused (listed once)."""
        if id(operation) in self.first:
            name = self._fresh(self.first[id(operation)])
            return {"name": name, "share": self.first[id(operation)]}
        if any(u.name == operation.name for u in self.refused):
            return None
        try:
            if not isinstance(operation, keras.layers.Layer):
                raise refuse(operation, "a keras.ops operation, not a layer")
            if not IDENTIFIER.match(operation.name):  # renamed, its weights would not line up
                raise refuse(operation, "its name is not a spec name ([A-Za-z_][A-Za-z0-9_]*)")
            entry = {"name": operation.name, **self.importer(operation)}
        except UnsupportedInBackend as exc:
            self.refused.append(unclaimed(operation, exc.reason))
            return None
        self.first[id(operation)] = operation.name
        return entry

    def _fresh(self, base: str) -> str:
        count = 1
        while f"{base}_{count}" in self.taken:
            count += 1
        self.taken.add(f"{base}_{count}")
        return f"{base}_{count}"

    def _previous(self) -> str | None:
        if self.layers:
            return str(self.layers[-1]["name"])
        return str(self.inputs[0]["name"]) if len(self.inputs) == 1 else None

    def refs(self, tensors: list[Any], reader: Any) -> list[str]:
        """The spec names ``tensors`` come from. A spec refers to all of a layer's outputs
        by its name, so those must be read whole and in order; else ``reader`` is refused."""
        groups: list[tuple[Any, int, int]] = []  # (operation, call, outputs read)
        for tensor in tensors:
            operation, call, index = _history(tensor)
            last = groups[-1] if groups else None
            if index and last and last[:2] == (operation, call) and last[2] == index:
                groups[-1] = (operation, call, index + 1)
            else:
                groups.append((operation, call, 1))
        for operation, call, read in groups:
            if read != len(operation._inbound_nodes[call].outputs):
                reason = f"it reads part of the outputs of '{operation.name}'"
                self.refused.append(unclaimed(reader, reason))
        return [self.names.get((id(op), call), op.name) for op, call, _ in groups]


def read_graph(model: Any, importer: Importer) -> tuple[dict[str, Any], list[Unclaimed]]:
    """The spec of a functional model (a Sequential's inner functional one), and the layers
    ``importer`` refused."""
    name = model.name
    model = getattr(model, "_functional", None) or model  # Sequential keeps its graph there
    reader = _Reader(importer, taken={layer.name for layer in model.layers})
    for operation, call in call_order(model):
        reader.add(operation, call)
    spec: dict[str, Any] = {"name": _identifier(name), "inputs": reader.inputs}
    spec["layers"] = reader.layers
    outputs = reader.refs(keras.tree.flatten(model.outputs), model)
    if outputs != [reader._previous()]:
        spec["outputs"] = outputs[0] if len(outputs) == 1 else outputs
    return spec, reader.refused


def _identifier(name: str) -> str:
    """A spec name (``[A-Za-z_][A-Za-z0-9_]*``) from a model's name."""
    cleaned = re.sub(r"\W", "_", name)
    return cleaned if cleaned and not cleaned[0].isdigit() else f"model_{cleaned}"
