"""Importing an ONNX model: standard operator patterns → spec layers, with their weights.

The file is read with ``onnx.load`` (external data allowed, each tensor's declared size
checked against its dims and its file before any data is read; see ``backends.onnx.reading``)
and its shapes inferred. The nodes are walked in the file's (topological) order:
a node computed from constants and shapes alone (``Shape``, ``Gather`` on a shape, ...) is
arithmetic, not a layer; every other node is claimed by the recogniser registered for its
operator in its family module (``@RECOGNISERS.register("Gemm")``), which may also claim the
nodes after it that belong to the same layer (a ``MatMul``'s bias ``Add``, a ``Conv``'s
``Relu``). A subgraph read as one layer whatever its first operator (attention, a Conv1D's
Reshape → Gemm → Reshape) is found before the walk by a pattern registered in the family
modules (``@PATTERNS.register("Attention")``) and claimed at its first node in file order.
A node no recogniser claims is listed with its operator, parameters and reason.

Layout: each ONNX tensor is a ``View`` of a spec tensor, ``axes[i]`` being the spec axis at
ONNX axis ``i`` (``None``: an inserted axis of size 1). ``Transpose``, ``Squeeze`` and
``Unsqueeze`` only change views, so a graph's transposes vanish into the layers that need
them: a convolution claims its input only when the view is channels first in ONNX's eyes.
The model is read as a ``channels_first`` spec (PyTorch's layout) and as a ``channels_last``
one (images transposed inside, as the translator and tf2onnx export Keras models); the
reading claiming more nodes is kept (on a tie, see ``choose``).

Weights: each recogniser names the IR's ONNX tensors of its layer and where they come from
(an initializer, transposed for a Gemm with ``transB``), read only when asked for.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import onnx

from backends.onnx.model import NAME
from backends.onnx.reading import Source, frozen_layers, read_model, unrecognised
from translator.commands.importing import Imported, Unclaimed, spec_name, wrapper_args
from translator.errors import SpecError
from translator.ir import Graph, Node
from translator.ops.core import flat_rows
from translator.registry import Registry
from translator.spec.schema import SCHEMAS
from translator.spec.values import snake_case
from translator.weights.canonical import Weights

Axes = tuple[int | None, ...]
Thunk = Callable[[], np.ndarray]


# What a recogniser meeting a node in a form it did not foresee raises (a missing attribute,
# an input of another rank): the node is listed as not understood, with the error.
UNFORESEEN = (KeyError, IndexError, TypeError, ValueError, AttributeError)


class Refused(Exception):
    """A recogniser cannot claim a node; the message says why (one phrase)."""


@dataclass(frozen=True)
class View:
    """An ONNX tensor as the spec tensor ``ref`` (an input or a layer) sees it: ``axes[i]``
    is the spec axis (batch 0) at ONNX axis ``i``; ``None`` an inserted axis of size 1."""

    ref: str
    axes: Axes

    def permuted(self, perm: list[int]) -> View:
        return View(self.ref, tuple(self.axes[p] for p in perm))

    @property
    def plain(self) -> bool:
        return self.axes == tuple(range(len(self.axes)))


Recogniser = Callable[["Reading", onnx.NodeProto], None]
# Keyed by ONNX operator type (``Gemm``, ``Conv``, ...); filled in the family modules.
RECOGNISERS: Registry[Recogniser] = Registry("ONNX recogniser")
# Subgraphs read as one layer whatever operator they start with (attention, a Conv1D's
# Reshape → Gemm → Reshape), found before the walk: pattern name → finder, which gives the
# recogniser of each match by the id of the match's first node in file order.
Finder = Callable[["Reading"], dict[int, Recogniser]]
PATTERNS: Registry[Finder] = Registry("ONNX subgraph pattern")


def attributes(node: onnx.NodeProto) -> dict[str, Any]:
    """A node's attributes as Python values (strings decoded)."""
    values = {a.name: onnx.helper.get_attribute_value(a) for a in node.attribute}
    return {k: v.decode(errors="replace") if isinstance(v, bytes) else v for k, v in values.items()}


def channels_first_axes(data_format: str, rank: int) -> Axes:
    """The spec axes a spec tensor of ``rank`` (batch included) shows channels first."""
    if data_format == "channels_first" or rank < 3:
        return tuple(range(rank))
    return (0, rank - 1, *range(1, rank - 1))


def spatial_axes_of(data_format: str, rank: int) -> tuple[int, ...]:
    """The spec's spatial axes of a tensor of ``rank`` (batch included)."""
    first = 2 if data_format == "channels_first" else 1
    return tuple(range(first, first + rank - 2))


@dataclass
class Reading:
    """One reading of the graph as a spec of ``data_format``: what recognisers consult and
    fill (views, layers and their weights, refusals)."""

    source: Source
    data_format: str
    views: dict[str, View] = field(default_factory=dict)
    static: set[str] = field(default_factory=set)  # tensors of constants and shapes only
    layers: list[dict[str, Any]] = field(default_factory=list)
    weights: dict[str, dict[str, Thunk]] = field(default_factory=dict)
    refused: list[Unclaimed] = field(default_factory=list)
    claimed: set[int] = field(default_factory=set)  # ids of nodes a pattern took in
    taken: set[str] = field(default_factory=set)
    transposed: int = 0  # image-layout transposes read (a transposed channels-last model)
    natural: bool = False  # images declared in the spec's channels-last order (tf2onnx's)

    def view(self, tensor: str) -> View:
        """The view of a data tensor; refused for one no layer made."""
        if tensor not in self.views:
            what = "a constant" if tensor in self.static else "the output of an unclaimed node"
            raise Refused(f"reads '{tensor}', {what}")
        return self.views[tensor]

    def const(self, tensor: str) -> np.ndarray | None:
        """The value of an initializer or constant tensor, None for data."""
        return self.source.constant(tensor)

    def weight(self, tensor: str) -> np.ndarray:
        """A weight initializer's value; refused for a tensor computed at run time."""
        value = self.source.constant(tensor)
        if value is None:
            raise Refused(f"its weight '{tensor}' is computed at run time")
        return value

    def reader(self, tensor: str) -> onnx.NodeProto | None:
        """The only node reading ``tensor`` (and no graph output), or None."""
        readers = self.source.readers.get(tensor, [])
        if len(readers) != 1 or tensor in self.source.outputs:
            return None
        return readers[0]

    def claim(self, node: onnx.NodeProto) -> None:
        """Mark a following node as part of the layer being read."""
        self.claimed.add(id(node))

    def shape(self, tensor: str) -> tuple[int | None, ...] | None:
        return self.source.shapes.get(tensor)

    def expects(self, view: View, axes: Axes, what: str) -> None:
        """Refuse unless ``view`` shows the spec tensor with ``axes``."""
        if view.axes != axes:
            raise Refused(f"{what}; its input's axes are {view.axes} of '{view.ref}'")

    def add(
        self,
        node: onnx.NodeProto,
        layer: dict[str, Any],
        inputs: list[View],
        outputs: dict[str, Axes],
        weights: dict[str, Thunk] | None = None,
        suffix: str = "",
    ) -> str:
        """Add the spec layer ``{type, args}`` read from ``node``; ``outputs`` gives each
        ONNX tensor it makes as the new layer's axes. Returns the layer's name."""
        try:
            args = wrapper_args(layer["type"], {k: v for k, v in layer.items() if k != "type"})
        except SpecError as exc:
            raise Refused(f"{exc.message}; {exc.accepted}") from None
        name = self._name(node, layer["type"], suffix)
        entry: dict[str, Any] = {"name": name, "type": layer["type"], **args}
        refs = [v.ref for v in inputs]
        if refs != [self.previous()]:
            entry["inputs"] = refs[0] if len(refs) == 1 else refs
        self.layers.append(entry)
        self.weights[name] = weights or {}
        for tensor, axes in outputs.items():
            self.views[tensor] = View(name, axes)
        return name

    def previous(self) -> str | None:
        if self.layers:
            return str(self.layers[-1]["name"])
        inputs = self.source.inputs
        return inputs[0].name if len(inputs) == 1 else None

    def _name(self, node: onnx.NodeProto, type_: str, suffix: str) -> str:
        """A spec name from the source, numbered when taken: the module torch.onnx's
        dynamo exporter records (``name_scopes``), else the module path of the node's first
        named weight (``features.0.weight`` → ``features_0``), else the node's path
        (``/fc1/Gemm`` → ``fc1``), else the type in snake case."""
        module = self.source.scope(node)
        named = [t for t in node.input if self.source.is_weight(t) and "." in t]
        path = self.source.path(node)
        if module is not None:
            base = module
        elif named and not named[0].startswith("onnx::"):
            base = named[0].rsplit(".", 1)[0]
        elif len(path) > 1:
            base = path[-2]
        else:
            base = snake_case(type_)
        return spec_name(f"{base}{suffix}", snake_case(type_), self.taken)

    def unclaimed(self, node: onnx.NodeProto, reason: str) -> None:
        """List ``node``; its output becomes a stand-in input (``Source.stand_in``)."""
        params = sum(self.source.size(t) for t in node.input if self.source.is_weight(t))
        name, out = node.name or node.output[0], node.output[0] if len(node.output) == 1 else ""
        shape, dtype = self.source.stand_in(out)
        if shape is not None and out not in self.views:  # the nodes after it read it
            self.views[out] = View(name, tuple(range(len(shape) + 1)))
        self.refused.append(Unclaimed(name, node.op_type, params, reason, shape, dtype))


def _is_static(reading: Reading, node: onnx.NodeProto) -> bool:
    """A node computed from constants and shapes only (its subgraphs' too): arithmetic."""
    if node.op_type in ("Shape", "Size", "Constant", "ConstantOfShape"):
        return node.op_type != "ConstantOfShape" or node.input[0] in reading.static
    static, source = reading.static, reading.source  # a Loop's body reading data: data
    return all(not t or t in static or source.is_const(t) for t in source.reads(node))


def read(source: Source, data_format: str, natural: bool = False) -> Reading:
    """Every node of ``source`` claimed or listed, as a spec of ``data_format``."""
    reading = Reading(source, data_format, taken={i.name for i in source.inputs}, natural=natural)
    for spec_input in source.inputs:
        rank, image = len(spec_input.full), spec_input.image and not natural
        axes = channels_first_axes(data_format, rank) if image else tuple(range(rank))
        reading.views[spec_input.onnx] = View(spec_input.name, axes)
    patterns: dict[int, Recogniser] = {}
    for _, find in PATTERNS.items():  # by name: Attention's Reshape → Gemm before Conv1DDense's
        for first, claims in find(reading).items():
            patterns.setdefault(first, claims)
    for node in source.model.graph.node:
        if id(node) in reading.claimed:
            continue
        if _is_static(reading, node):
            reading.static.update(node.output)
            continue
        recogniser = patterns.get(id(node), RECOGNISERS.get(node.op_type))
        try:
            if recogniser is None:
                raise Refused(unrecognised(node))
            recogniser(reading, node)
        except Refused as exc:
            reading.unclaimed(node, str(exc))
        except UNFORESEEN as exc:  # a form no recogniser foresaw: listed, never a traceback
            reading.unclaimed(node, f"not understood ({type(exc).__name__}: {exc})")
    return reading


def choose(source: Source) -> Reading:
    """The better of the channels-first and channels-last readings (see the module doc)."""
    first, last = read(source, "channels_first"), read(source, "channels_last")
    # A tie: the graph transposes images (a transposed channels-last model) → channels_last;
    # else channels_first where a layer has a data format to write (PyTorch's layout).
    best = first if not first.transposed and _laid_out(first) else last
    if len(first.refused) != len(last.refused):
        best = min(first, last, key=lambda r: len(r.refused))
    if not best.refused or not any(i.image for i in source.inputs):
        return best
    natural = read(source, "channels_last", natural=True)  # images declared NHWC (tf2onnx)
    return natural if len(natural.refused) < len(best.refused) else best


def _laid_out(reading: Reading) -> bool:
    """Whether a layer of the reading, or a wrapper's, has a data format (a convolution, ...)."""
    types = (w.get("layer", w)["type"] for w in reading.layers)  # a wrapper: its layer's
    return any("data_format" in SCHEMAS[type_].arg_index for type_ in types)


def spec_of(reading: Reading) -> dict[str, Any]:
    """The spec mapping of a reading: inputs, layers, outputs, data format."""
    source = reading.source
    spec: dict[str, Any] = {"name": source.name}
    if reading.data_format == "channels_first" and _laid_out(reading):
        spec["data_format"] = "channels_first"
    layout = "" if reading.natural else reading.data_format
    spec["inputs"], spec["layers"] = [i.entry(layout) for i in source.inputs], reading.layers
    outputs = [reading.views[t].ref for t in source.outputs if t in reading.views]
    if outputs != [reading.previous()]:
        spec["outputs"] = outputs[0] if len(outputs) == 1 else outputs
    return spec


def _file_order(node: Node, name: str, array: np.ndarray) -> np.ndarray:
    """A file's Flatten reads the spec's order (the importer refuses any other); a Dense
    after it in the imported spec reads it flat, its ONNX rows channels first: permuted so."""
    rows = flat_rows(node) if name == "W" else None
    return array if rows is None else np.asarray(rows.apply(array))


def layer_weights(reading: Reading, graph: Graph) -> Weights:
    """``{layer: {IR tensor name: array}}``, each array shaped as the IR's ONNX tensor."""
    out: Weights = {}
    for node in graph.nodes:
        tensors = reading.weights.get(node.name, {})
        shapes = {w.name: w.shape for w in node.weights.get(NAME, ())}
        if tensors:
            read = {k: np.reshape(v(), shapes[k]) for k, v in tensors.items()}
            out[node.name] = {k: _file_order(node, k, v) for k, v in read.items()}
    return out


def import_file(path: str | Path) -> Imported:
    """Read the ONNX model at ``path`` into a spec, its unclaimed nodes and its weights."""
    source = read_model(path)
    spec = spec_of(reading := choose(source))
    for layer in spec["layers"]:  # a translator export says which layers were frozen
        layer.update({"trainable": False} if layer["name"] in frozen_layers(source.model) else {})
    refused = reading.refused
    missing = [t for t in source.outputs if t not in reading.views and not refused]
    if missing:
        refused = [Unclaimed(missing[0], "output", 0, "no layer makes this graph output")]
    return Imported(NAME, spec, refused, lambda graph: layer_weights(reading, graph))
