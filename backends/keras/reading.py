"""Reading a Keras model for import: loading a file in safe mode, and walking a functional
model's graph (``read_graph``) in call order into spec layers, with nested models inlined and
keras.ops operations read by their own importers (``backends.keras.importing``).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import keras

from backends.keras.model import NAME
from translator.commands.importing import SourceError, Unclaimed, plain
from translator.errors import UnsupportedInBackend
from translator.registry import Registry
from translator.spec.values import IDENTIFIER

# A layer importer: Keras layer → spec layer; an operation importer: (operation, call) →
# spec layer. Either raises ``UnsupportedInBackend`` with the reason it cannot. A spec layer
# may carry ``prepared: {input index: spec layer with a role}``: layers its inputs go through
# first (the walk adds them before it, named ``<layer>_<role>``), and ``inputs_implied``: a
# last input that repeats the one before it is left out (attention's [x, x, x] is ``x``).
Importer = Callable[[Any], dict[str, Any]]
OperationImporter = Callable[[Any, int], dict[str, Any]]
INPUT_DTYPES = ("float32", "int32", "int64")  # a spec's input dtypes
Call = tuple[Any, int]  # (operation, call index)


@dataclass(frozen=True)
class Fused:
    """Calls read as one spec layer: ``layer``'s import (plus ``args``) at ``end``, reading
    the tensors ``reads``; the ``inside`` calls give no layer of their own."""

    end: Call
    inside: tuple[Call, ...]
    reads: tuple[Any, ...]
    layer: Any
    args: dict[str, Any]


# Finders of fused calls in a model's call order (a ceil-mode pool written by model.keras as
# Keras's pool between keras.ops pads): registered in the family modules.
FusionFinder = Callable[[list[Call]], list[Fused]]
FUSIONS: Registry[FusionFinder] = Registry("Keras fused-calls finder")


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


def own_layers(model: Any) -> list[Any]:
    """The layers of ``model`` and of the models nested in it (not the models themselves)."""
    found: list[Any] = []
    for layer in model.layers:
        found.extend(own_layers(layer) if isinstance(layer, keras.Model) else [layer])
    return found


def unclaimed(layer: Any, reason: str) -> Unclaimed:
    """A layer listed as not imported, with its parameter count (an operation has none) and,
    for a layer called once with one output, that output's shape and dtype (a partial
    spec's stand-in input)."""
    built = getattr(layer, "built", False) and hasattr(layer, "count_params")
    params = int(layer.count_params()) if built else 0
    calls = getattr(layer, "_inbound_nodes", [])
    if len(calls) != 1 or len(calls[0].outputs) != 1 or isinstance(layer, keras.Model):
        return Unclaimed(layer.name, type(layer).__name__, params, reason)
    output = calls[0].outputs[0]
    shape = tuple(None if d is None else int(d) for d in output.shape[1:])
    return Unclaimed(layer.name, type(layer).__name__, params, reason, shape, str(output.dtype))


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
    operation_importer: OperationImporter
    inputs: list[dict[str, Any]] = field(default_factory=list)
    layers: list[dict[str, Any]] = field(default_factory=list)
    names: dict[tuple[int, int], str] = field(default_factory=dict)  # (id, call) → spec name
    first: dict[int, str] = field(default_factory=dict)  # id → name of its first call
    refused: list[Unclaimed] = field(default_factory=list)
    taken: set[str] = field(default_factory=set)
    fused: dict[tuple[int, int], Fused | None] = field(default_factory=dict)  # None: inside

    def walk(self, order: list[Call]) -> None:
        """Add every call of ``order`` (one model's call order), fused calls as one layer."""
        for _, find in FUSIONS.items():
            for match in find(order):
                self.fused.update({(id(op), call): None for op, call in match.inside})
                self.fused[(id(match.end[0]), match.end[1])] = match
        for operation, call in order:
            key = (id(operation), call)
            found = self.fused.get(key)
            if key not in self.fused:
                self.add(operation, call)
            elif found is not None:
                self._add_fused(operation, call, found)

    def _add_fused(self, operation: Any, call: int, found: Fused) -> None:
        seen = id(found.layer) in self.first  # a pool fused twice: the second is fresh
        name = self._fresh(found.layer.name) if seen else found.layer.name
        try:
            entry = {"name": name, **self.importer(found.layer), **found.args}
        except UnsupportedInBackend as exc:
            self.refused.append(unclaimed(found.layer, exc.reason))
            return
        self.first[id(found.layer)] = name
        self.names[(id(operation), call)] = name
        refs = self.refs(list(found.reads), found.layer)
        if refs != [self._previous()]:
            entry["inputs"] = refs[0] if len(refs) == 1 else refs
        self.layers.append(entry)

    def add(self, operation: Any, call: int) -> None:
        if isinstance(operation, keras.layers.InputLayer):
            self._input(operation, call)
            return
        if isinstance(operation, keras.Model):
            self._inline(operation, call)
            return
        entry = self._entry(operation, call)
        if entry is None:
            return
        self.names[(id(operation), call)] = entry["name"]
        reads = operation._inbound_nodes[call].arguments.keras_tensors
        refs = self.refs(reads, operation)
        for index, layer in sorted(entry.pop("prepared", {}).items()):
            refs[index] = self._prepared(entry["name"], layer, refs[index])
        implied = entry.pop("inputs_implied", False)
        while implied and len(refs) > 1 and refs[-1] == refs[-2]:
            refs.pop()  # attention's value is the query, its key the value, when left out
        if refs != [self._previous()]:
            entry["inputs"] = refs[0] if len(refs) == 1 else refs
        self.layers.append(entry)

    def _prepared(self, name: str, layer: dict[str, Any], source: str) -> str:
        """A layer an importer puts before input ``source`` of layer ``name`` (its
        ``prepared``: InceptionResNetV2's scaled branch), named ``<name>_<role>``; its name."""
        fresh = f"{name}_{layer.pop('role')}"
        fresh = self._fresh(fresh) if fresh in self.taken else fresh
        self.taken.add(fresh)
        previous = self._previous()
        self.layers.append(
            {"name": fresh, **layer, **({} if source == previous else {"inputs": source})}
        )
        return fresh

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

    def _inline(self, model: Any, call: int) -> None:
        """A model called inside the model (a Sequential stem, a nested functional model): its
        layers join the spec in its call order, reading what the call reads; its output is
        named by the spec layer that gives it."""
        inner = getattr(model, "_functional", None) or model
        outer = self.refs(model._inbound_nodes[call].arguments.keras_tensors, model)
        for tensor, name in zip(keras.tree.flatten(inner.inputs), outer, strict=False):
            operation, inner_call, _ = _history(tensor)
            self.names[(id(operation), inner_call)] = name
        order = call_order(inner)
        self.walk([(op, c) for op, c in order if not isinstance(op, keras.layers.InputLayer)])
        outputs = self.refs(keras.tree.flatten(inner.outputs), model)
        if len(outputs) != 1 or len(outer) != len(keras.tree.flatten(inner.inputs)):
            self.refused.append(unclaimed(model, "a nested model of more than one output"))
        self.names[(id(model), call)] = outputs[0]

    def _entry(self, operation: Any, call: int) -> dict[str, Any] | None:
        """The spec layer of a first call, ``{share: ...}`` for a later one, or None when
        the operation is refused (listed once)."""
        if id(operation) in self.first:
            name = self._fresh(self.first[id(operation)])
            return {"name": name, "share": self.first[id(operation)]}
        if any(u.name == operation.name for u in self.refused):
            return None
        try:
            if not IDENTIFIER.match(operation.name):  # renamed, its weights would not line up
                reason = "its name is not a spec name ([A-Za-z_][A-Za-z0-9_]*)"
                raise UnsupportedInBackend(NAME, type(operation).__name__, reason)
            if isinstance(operation, keras.layers.Layer):
                entry = {"name": operation.name, **self.importer(operation)}
            else:
                entry = {"name": operation.name, **self.operation_importer(operation, call)}
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


def read_graph(
    model: Any, importer: Importer, operation_importer: OperationImporter
) -> tuple[dict[str, Any], list[Unclaimed]]:
    """The spec of a functional model (a Sequential's inner functional one), and the layers
    the importers refused: ``importer`` for layers, ``operation_importer`` for keras.ops
    operations."""
    name = model.name
    model = getattr(model, "_functional", None) or model  # Sequential keeps its graph there
    reader = _Reader(
        importer, operation_importer, taken={layer.name for layer in own_layers(model)}
    )
    reader.walk(call_order(model))
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
