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
from pathlib import Path
from typing import Any

import numpy as np

from backends.keras.model import NAME
from backends.keras.reading import Importer, load, own_layers, read_graph
from translator.commands.importing import (
    SPEC_DATA_FORMAT,
    ExampleInput,
    Imported,
    SourceError,
    plain,
    written_args,
)
from translator.errors import SpecError, UnsupportedInBackend
from translator.ir import Graph
from translator.registry import Registry
from translator.spec.schema import SCHEMAS
from translator.weights.canonical import Weights

# An importer takes a Keras layer and returns its spec layer: ``type`` and its arguments
# (``name`` and ``inputs`` are added by the walk). It raises ``UnsupportedInBackend`` with a
# reason for a configuration the spec cannot express.
IMPORTERS: Registry[Importer] = Registry("Keras importer")
# An arithmetic importer takes a keras.ops operation of a functional model (``x + 3.0``
# records a ``keras.ops`` ``Add``) and its call's positional arguments, tensors and
# constants; it returns the spec layer that computes the same, or raises as an importer does.
ArithmeticImporter = Callable[[Any, list[Any]], dict[str, Any]]
OPERATIONS: Registry[ArithmeticImporter] = Registry("keras.ops importer")

# Keras arguments that shape training only (initial values, penalties, constraints): the
# imported weights replace the first, and a spec describes inference, so none is carried.
TRAINING_ONLY = re.compile(r"_(initializer|regularizer|constraint)$")
ALWAYS_THERE = {"name", "trainable", "dtype"}
# Keras arguments that change nothing a spec describes (specs have no masks).
NO_EFFECT = {"zero_output_for_mask"}


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


def import_operation(operation: Any, call: int) -> dict[str, Any]:
    """The spec layer for call ``call`` of a keras.ops ``operation`` by its class's importer."""
    importer = OPERATIONS.get(type(operation).__name__)
    if importer is None:
        accepted = ", ".join(sorted(OPERATIONS))
        raise refuse(operation, f"a keras.ops operation no importer claims; accepted: {accepted}")
    arguments = operation._inbound_nodes[call].arguments
    if arguments.kwargs:
        raise refuse(operation, f"keyword arguments {sorted(arguments.kwargs)}")
    return importer(operation, list(arguments.args))


def import_file(path: str | Path) -> Imported:
    """Read the saved model at ``path`` into a spec, its unclaimed layers and its weights."""
    model = load(path)
    spec, refused = read_graph(model, import_layer, import_operation)
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
    spec, refused = read_graph(model, import_layer, import_operation)
    return Imported(NAME, spec, refused, lambda graph: model_weights(model, graph))


def model_weights(model: Any, graph: Graph) -> Weights:
    """``{layer: {IR tensor name: array}}`` from the model's variables, shaped as the IR says."""
    # Imported here: export reads the family modules' tables, and they register importers.
    from backends.keras.export import variable_map

    variables = variable_map(graph, {layer.name: layer for layer in own_layers(model)})
    shapes = {n.name: {w.name: w.shape for w in n.weights.get(NAME, ())} for n in graph.nodes}
    return {
        layer: {name: np.reshape(v.numpy(), shapes[layer][name]) for name, v in tensors.items()}
        for layer, tensors in variables.items()
    }
