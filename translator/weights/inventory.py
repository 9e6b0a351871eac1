"""What a model file really holds: every tensor, its shape, and the spec layer it belongs to.

``read_inventory`` reads any model file ``audit`` takes (``.onnx``, ``.keras``/``.h5``, a
state_dict ``.pt``, ``.safetensors``, a ``torch.export`` ``.pt2``) into an ``Inventory``: the
tensors (initializers, constants, buffers, parameters) with the layer each belongs to (by its
name where the name survived, by the graph's structure where it did not), and, per layer, the
tensors of *other* layers its operators read (a deduplicated initializer). Only names, shapes
and dtypes are read: no pickle (``torch.load(weights_only=True, mmap=True)``), no Keras code
(safe mode), no tensor data beyond what a format's reader parses; sizes are bounded first.

No framework is imported at module level: each reader imports its own, lazily.
"""

from __future__ import annotations

import json
import math
import os
import zipfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from translator.errors import WeightsError
from translator.ir import FRAMEWORKS, Graph
from translator.weights.validate import expected_bytes

# Model-file suffix → its format (the longest suffix first, as in translator.weights.files).
FORMATS: dict[str, str] = {
    ".onnx": "onnx",
    ".keras": "keras",
    ".h5": "keras",
    ".pt": "torch",
    ".pth": "torch",
    ".safetensors": "safetensors",
    ".pt2": "pt2",
}
ACCEPTED_FILES = ".onnx, .keras, .h5, a state_dict .pt/.pth, .safetensors or a torch.export .pt2"
# A file may hold more than the spec predicts (that is what audit explains), but not without
# bound: at most this many times the spec's float64 bytes, plus the slack below.
SIZE_FACTOR = 2
SLACK = 64 * 2**20  # bytes besides the weights: a graph, an index, constants
PREFIX = "layers."  # the translator's SpecModule holds its layers under this attribute
# How a tied tensor's second key (``checkpoint:``'s ``also``: GPT-2's lm_head.weight) is
# attributed: to the layer of that name, the tied head.
SECOND_NAME = "second name"


@dataclass(frozen=True)
class FileTensor:
    """One tensor the file holds. ``layer`` is the spec layer it belongs to (None: none
    found); ``named`` its tensor name in that layer when its name survived the exporter;
    ``via`` how it was attributed: ``name``, ``scope`` (the operators reading it),
    ``order`` (the n-th Conv of the file is the spec's n-th), ``checkpoint`` (the spec's
    ``checkpoint:`` section or module-path rule), ``SECOND_NAME`` or ``none``."""

    name: str
    shape: tuple[int, ...]
    floating: bool = True
    layer: str | None = None
    named: str | None = None
    via: str = "none"

    @property
    def size(self) -> int:
        return math.prod(self.shape)


@dataclass
class Inventory:
    """A model file's tensors, attributed to the spec's layers."""

    source: str
    format: str  # a key's value of FORMATS
    framework: str  # whose IR prediction the file is compared with: keras, torch or onnx
    exporter: str  # who wrote the file, as far as it says
    tensors: list[FileTensor] = field(default_factory=list)
    # layer → shapes of other layers' tensors its operators read (deduplicated initializers)
    borrowed: dict[str, list[tuple[int, ...]]] = field(default_factory=dict)
    loops: set[str] = field(default_factory=set)  # layers run as an ONNX Loop or Scan
    dynamo: bool = False  # written by torch.onnx.export(dynamo=True), its optimizer run
    ops: dict[str, set[str]] = field(default_factory=dict)  # layer → its ONNX operator types

    def held(self, layer: str | None) -> list[FileTensor]:
        return [t for t in self.tensors if t.layer == layer]


def split_name(name: str, graph: Graph) -> tuple[str, str] | None:
    """``"<layer>.<tensor>"`` (or ``"layers.<layer>.<tensor>"``) → (layer, tensor) when the
    layer is the spec's; else None. Layer names never contain a dot."""
    names = {n.name for n in graph.nodes}
    for text in (name, name.removeprefix(PREFIX)):
        layer, dot, tensor = text.partition(".")
        if dot and layer in names:
            return layer, tensor
    return None


def named_tensor(name: str, shape: tuple[int, ...], graph: Graph, floating: bool) -> FileTensor:
    """A tensor attributed by its name (``via="name"``), or left unattributed."""
    found = split_name(name, graph)
    if found is None:
        return FileTensor(name, shape, floating)
    return FileTensor(name, shape, floating, found[0], found[1], "name")


def check_size(path: str | Path, graph: Graph, framework: str | None = None) -> None:
    """Refuse a file larger than ``SIZE_FACTOR`` × the spec's weights (as float64) + slack,
    before anything is read: the weights of ``framework``, or (not known yet) the largest."""
    frameworks = [framework] if framework else list(FRAMEWORKS)
    limit = SLACK + SIZE_FACTOR * max(
        expected_bytes([w.shape for n in graph.nodes for w in n.weights.get(fw, ())])
        for fw in frameworks
    )
    size = os.path.getsize(path)
    if size > limit:
        raise WeightsError(
            str(path),
            f"holds {size:,} bytes, more than {SIZE_FACTOR} × the spec's weights need"
            f" ({limit:,}); accepted: a model file of this spec",
        )


def file_format(path: str | Path) -> str:
    """The file's format from its suffix, once it is known to be a regular file."""
    name = str(path).lower()
    kind = next((fmt for suffix, fmt in FORMATS.items() if name.endswith(suffix)), None)
    if kind is None:
        raise WeightsError(str(path), f"unknown model file type; accepted: {ACCEPTED_FILES}")
    if not Path(path).exists():
        raise WeightsError(str(path), f"no such file; accepted: {ACCEPTED_FILES}")
    if not Path(path).is_file():  # a directory, device or pipe: reading could hang or flood
        raise WeightsError(str(path), "not a regular file; accepted: a model file")
    return kind


def read_safetensors_file(path: str | Path, graph: Graph) -> Inventory:
    """A ``.safetensors`` file: its header's keys and shapes (PyTorch names)."""
    from translator.weights.safetensors import read_entries

    check_size(path, graph, "torch")
    inventory = Inventory(str(path), "safetensors", "torch", "safetensors (PyTorch names)")
    for e in read_entries(path):
        floating = e.dtype.startswith(("F", "BF"))
        inventory.tensors.append(named_tensor(e.key, e.shape, graph, floating))
    return inventory


def _pt2_shape(meta: dict[str, Any], source: str, key: str) -> tuple[int, ...]:
    sizes = meta.get("sizes") if isinstance(meta, dict) else None
    if not isinstance(sizes, list) or not all(
        isinstance(s, dict) and isinstance(s.get("as_int"), int) and s["as_int"] >= 0 for s in sizes
    ):
        raise WeightsError(source, f"tensor '{key}' has no static shape; accepted: static shapes")
    return tuple(s["as_int"] for s in sizes)


def _pt2_configs(archive: zipfile.ZipFile) -> list[str]:
    return [
        n
        for n in archive.namelist()
        if n.endswith(
            ("weights/model_weights_config.json", "constants/model_constants_config.json")
        )
    ]


def read_pt2(path: str | Path, graph: Graph) -> Inventory:
    """A ``torch.export.save`` archive: the JSON configs of its weights and constants (each
    tensor's fully qualified name and shape); no pickle is read, no tensor data."""
    source = str(path)
    check_size(path, graph, "torch")
    if not zipfile.is_zipfile(path):
        raise WeightsError(source, "not a .pt2 archive (a zip); accepted: torch.export.save's file")
    inventory = Inventory(source, "pt2", "torch", "torch.export.save")
    with zipfile.ZipFile(path) as archive:
        configs = _pt2_configs(archive)
        if not configs:
            raise WeightsError(source, "no weights config; accepted: torch.export.save's file")
        for member in configs:
            try:
                config = json.loads(archive.read(member)).get("config", {})
            except (ValueError, AttributeError):
                raise WeightsError(source, f"{member} is not a JSON config") from None
            for key, entry in config.items():
                shape = _pt2_shape(entry.get("tensor_meta"), source, key)
                floating = entry.get("tensor_meta", {}).get("dtype") in PT2_FLOAT_DTYPES
                inventory.tensors.append(named_tensor(key, shape, graph, floating))
    return inventory


# torch.export's serialized ScalarType codes of floating dtypes (float16, float32, float64,
# bfloat16: torch/_export/serde/schema.py).
PT2_FLOAT_DTYPES = {5, 6, 7, 13}


def read_state_dict(path: str | Path, graph: Graph) -> Inventory:
    """A PyTorch state_dict: loaded with ``weights_only=True`` (no pickle code runs) and
    memory-mapped (no tensor data is read)."""
    source = str(path)
    check_size(path, graph, "torch")  # before PyTorch is even imported
    import pickle

    import torch

    try:
        state = torch.load(path, map_location="cpu", weights_only=True, mmap=True)
    except (OSError, RuntimeError, pickle.UnpicklingError, zipfile.BadZipFile, EOFError) as exc:
        first = str(exc).strip().splitlines()[0][:200] if str(exc).strip() else type(exc).__name__
        raise WeightsError(
            source, f"not a readable PyTorch state_dict ({first}); accepted: torch.save(state_dict)"
        ) from None
    if not isinstance(state, dict) or not all(isinstance(v, torch.Tensor) for v in state.values()):
        raise WeightsError(source, "not a state_dict; accepted: a dict of tensors (torch.save)")
    inventory = Inventory(source, "torch", "torch", "torch.save(state_dict)")
    for key, value in state.items():
        shape = tuple(value.shape)
        inventory.tensors.append(named_tensor(str(key), shape, graph, value.is_floating_point()))
    return inventory


def read_keras(path: str | Path, graph: Graph) -> Inventory:
    """A saved Keras model, loaded in safe mode: each layer's variables, by path."""
    check_size(path, graph, "keras")  # before Keras is even imported
    from backends.keras.reading import load

    inventory = Inventory(str(path), "keras", "keras", "Keras (model.save)")
    names = {n.name for n in graph.nodes}
    for layer in load(path).layers:
        for variable in layer.weights:
            # A wrapped layer's variables are named by the inner layer's path ("dense/kernel").
            tensor = str(variable.path).removeprefix(f"{layer.name}/")
            shape = tuple(int(d) for d in variable.shape)
            floating = "float" in str(variable.dtype)
            if layer.name in names:
                ft = FileTensor(str(variable.path), shape, floating, layer.name, tensor, "name")
            else:
                ft = FileTensor(f"{layer.name}/{tensor}", shape, floating)
            inventory.tensors.append(ft)
    return inventory


def _read_onnx(path: str | Path, graph: Graph) -> Inventory:
    from translator.weights.onnx_graph import read_onnx

    return read_onnx(path, graph)


READERS: dict[str, Callable[[str | Path, Graph], Inventory]] = {
    "onnx": _read_onnx,
    "keras": read_keras,
    "torch": read_state_dict,
    "safetensors": read_safetensors_file,
    "pt2": read_pt2,
}


def read_inventory(path: str | Path, graph: Graph) -> Inventory:
    """Every tensor of the model file at ``path``, attributed to ``graph``'s layers."""
    inventory = READERS[file_format(path)](path, graph)
    if inventory.framework == "torch":
        inventory.tensors = by_checkpoint_keys(inventory.tensors, graph)
    return inventory


def by_checkpoint_keys(tensors: list[FileTensor], graph: Graph) -> list[FileTensor]:
    """PyTorch tensors no name attributed, attributed as ``port`` reads the model's own
    checkpoint (``translator.weights.checkpoint``): by the spec's ``checkpoint:`` section
    (a joined tensor's parts, a transposed one, a tied tensor's second name: the layer of
    that name, the tied head), then by the module-path rule (``features.0.weight``)."""
    from translator.weights.checkpoint import by_layer_names, module_layer
    from translator.weights.maps import ir_names

    names = {n.name for n in graph.nodes}
    found: dict[str, tuple[str, str | None, str]] = {}
    for name, stored in graph.checkpoint.items():
        layer, _, tensor = name.partition(".")
        whole = len(stored.keys) == 1
        found.update({k: (layer, tensor if whole else None, "checkpoint") for k in stored.keys})
        for key in stored.also:
            found[key] = (module_layer(key, names) or layer, None, SECOND_NAME)
    recorded = set(found)  # the section's keys: its word over a name's
    wanted = [
        f"{n.name}.{t}"
        for n in graph.nodes
        for t in ir_names(n, "torch")
        if f"{n.name}.{t}" not in graph.checkpoint
    ]
    rest = [t.name for t in tensors if t.layer is None and t.name not in found]
    for key, spec_key in by_layer_names(wanted, rest).items():
        layer, _, tensor = spec_key.partition(".")
        if layer in names and key != spec_key:
            found[key] = (layer, tensor, "checkpoint")
    return [
        FileTensor(t.name, t.shape, t.floating, *found[t.name])
        if t.name in found and (t.layer is None or t.name in recorded)
        else t
        for t in tensors
    ]
