"""Reading and writing the weights of a built Keras model, by IR layer and tensor name.

A tensor's name is its variable path without the leading ``<layer>/`` (``lstm_cell/kernel``,
``forward_lstm/lstm_cell/bias``), exactly the IR's Keras ``WeightSpec`` names. Files: a
``.weights.h5`` holds no layer names, so it is read by structure, as Keras's
``load_weights`` does, but checked first with h5py against the datasets the spec's model
would write (``translator.weights.h5``): the backend's own model, or the same layers as
Keras's built-ins (a plain Keras model's file: its MultiHeadAttention is Keras's class, not
the backend's). A ``.keras`` archive is read the same way, from its ``model.weights.h5``
(no Keras object is deserialized from its config).
"""

from __future__ import annotations

import shutil
import tempfile
import warnings
import zipfile
from pathlib import Path
from typing import Any

import keras
import numpy as np

from backends.base import Built
from backends.keras.model import build, named_variables
from translator.errors import UnsupportedInBackend, WeightsError
from translator.ir import Graph
from translator.weights import h5
from translator.weights.canonical import Weights, check_weights
from translator.weights.npz import READ_ERRORS
from translator.weights.validate import expected_bytes

SLACK = 2**20  # bytes a .keras archive's weights file holds besides the tensors
WEIGHTS_MEMBER = "model.weights.h5"  # the weights inside a .keras archive


def _variables(layer: Any) -> dict[str, Any]:
    return named_variables(layer)


def _layer_weights(layers: dict[str, Any], graph: Graph) -> Weights:
    return {
        node.name: {name: np.array(v.numpy()) for name, v in _variables(layers[node.name]).items()}
        for node in graph.nodes
        if node.weights.get("keras") and node.name in layers
    }


def get_weights(built: Built) -> Weights:
    """Every layer with variables → {variable path after the layer name: numpy copy}."""
    return _layer_weights(built.extra["layers"], built.graph)


def set_weights(built: Built, weights: Weights) -> Built:
    """Assign ``weights`` in place (all checked against the IR first) and return ``built``."""
    check_weights(built.graph, "keras", weights, "keras weights")
    for layer, tensors in weights.items():
        variables = _variables(built.extra["layers"][layer])
        for name, value in tensors.items():
            variables[name].assign(np.asarray(value, dtype=variables[name].dtype))
        refresh(built.extra["layers"][layer])
    return built


def refresh(layer: Any) -> None:
    """Let a layer that computes with tensors derived from its variables derive them again:
    Normalization reshapes its mean and variance once, in ``finalize_state``, which Keras
    calls after loading weights from a file but not after ``assign``."""
    finalize = getattr(layer, "finalize_state", None)
    if finalize is not None:
        finalize()


def _candidates(graph: Graph) -> list[tuple[str, Any, Any]]:
    """The models a Keras weights file may come from: the backend's own, and the export's
    (Keras's built-in layers: a plain Keras model's file, MultiHeadAttention included).
    Each as (what, model, how to read its weights by IR layer and tensor)."""
    from backends.keras.export import export_model, variable_map

    built = build(graph)
    found: list[tuple[str, Any, Any]] = [("the backend's", built.model, lambda: get_weights(built))]
    try:
        exported = export_model(graph)
    except UnsupportedInBackend:
        return found
    layers = {layer.name: layer for layer in exported.model.layers}

    def read() -> Weights:
        specs = {n.name: {w.name: w.shape for w in n.weights.get("keras", ())} for n in graph.nodes}
        return {
            layer: {name: np.reshape(v.numpy(), specs[layer][name]) for name, v in tensors.items()}
            for layer, tensors in variable_map(graph, layers).items()
        }

    return [*found, ("Keras's built-in layers", exported.model, read)]


def _template(model: Any, folder: Path) -> dict[str, h5.Dataset]:
    """The datasets Keras writes for ``model`` (paths and shapes), from a file it saves."""
    path = folder / f"template_{id(model)}.weights.h5"
    model.save_weights(path)
    return h5.structure(path, "template")


def _from_weights_file(graph: Graph, path: Path, source: str, notes: list[str] | None) -> Weights:
    """A ``.weights.h5`` compared by structure with each candidate model's, shapes before
    data (``translator.weights.h5``), then loaded into the one it fits; failing that, read by
    the layer names stored beside its datasets (``_by_layer_name``)."""
    found = h5.structure(path, source)
    problems: list[list[str]] = []
    candidates = _candidates(graph)
    with tempfile.TemporaryDirectory() as folder:
        for _, model, read in candidates:
            differ = h5.differences(found, _template(model, Path(folder)))
            if differ:
                problems.append(differ)
                continue
            conversions = h5.check_dtypes(path, found, source)
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")  # the structure is checked: nothing to warn
                model.load_weights(path)
            if notes is not None:
                notes += conversions
            weights: Weights = read()
            return weights
        named = _by_layer_name(candidates[0], path, found, source, notes)
        if not isinstance(named, list):
            return named
        problems.append(named)
    raise h5.refuse(source, graph.name, min(problems, key=len))


def _name_problems(layers: dict[str, Any], datasets: dict[str, list[str]], found: Any) -> list:
    """How a file's datasets, by layer name, differ from ``layers``' variables."""
    problems = [f"no datasets for Keras layer '{n}'" for n in layers if n not in datasets]
    problems += [f"datasets of a layer '{n}' the spec has not" for n in datasets if n not in layers]
    for name in set(layers) & set(datasets):
        want = [tuple(v.shape) for v in layers[name].weights]
        got = [found[path].shape for path in datasets[name]]
        if want != got:
            problems.append(f"layer '{name}': expected shapes {want}, received {got}")
    return problems


def _by_layer_name(
    candidate: tuple[str, Any, Any],
    path: Path,
    found: dict[str, h5.Dataset],
    source: str,
    notes: list[str] | None,
) -> Weights | list[str]:
    """A weights file read by the layer names Keras stores beside the datasets, when its
    structure is not the spec's model's (a model with nested models, imported flat): every
    layer's datasets in variable order, shapes checked before data, every dataset used.
    The weights, or the problems found."""
    import h5py

    datasets, ambiguous = h5.by_layer(found)
    if ambiguous:
        return [f"a layer name stored in several places: {ambiguous[0]!r}"]
    _, model, read = candidate
    layers = {layer.name: layer for layer in model.layers if layer.weights}
    problems = _name_problems(layers, datasets, found)
    if problems:
        return problems
    conversions = h5.check_dtypes(path, found, source)
    with h5py.File(path, "r") as handle:
        for name, paths in datasets.items():
            for variable, member in zip(layers[name].weights, paths, strict=True):
                variable.assign(np.asarray(handle[member][()], dtype=variable.dtype))
            refresh(layers[name])
    if notes is not None:
        notes += conversions
    weights: Weights = read()
    return weights


def _weights_member(path: Path, graph: Graph, folder: Path) -> Path:
    """A ``.keras`` archive's ``model.weights.h5``, copied out once its declared size is
    known to be no larger than the spec's weights need (no Keras code is deserialized)."""
    source = str(path)
    specs = [w.shape for n in graph.nodes for w in n.weights.get("keras", ())]
    limit = expected_bytes(specs) + SLACK
    try:
        with zipfile.ZipFile(path) as archive:
            info = archive.getinfo(WEIGHTS_MEMBER)
            if info.file_size > limit:
                raise WeightsError(
                    source, f"'{WEIGHTS_MEMBER}' holds {info.file_size} bytes, more than the"
                    f" spec's weights need ({limit})",
                )  # fmt: skip
            target = folder / WEIGHTS_MEMBER
            with archive.open(info) as member, open(target, "wb") as out:
                shutil.copyfileobj(member, out)
    except WeightsError:  # a ValueError too: before READ_ERRORS
        raise
    except KeyError:
        raise WeightsError(source, f"a .keras archive without '{WEIGHTS_MEMBER}'") from None
    except READ_ERRORS as exc:
        raise WeightsError(source, f"not a readable .keras archive ({exc})") from None
    return target


def load_weights_file(graph: Graph, path: str | Path, notes: list[str] | None = None) -> Weights:
    """Weights for ``graph`` from a ``.keras`` model or a ``.weights.h5`` file, read by
    structure: the backend's own model's or Keras's built-in layers' (see ``_candidates``)."""
    path = Path(path)
    if path.name.endswith(".weights.h5"):
        return _from_weights_file(graph, path, str(path), notes)
    with tempfile.TemporaryDirectory() as folder:
        if path.name.endswith(".keras"):
            member = _weights_member(path, graph, Path(folder))
        else:  # Keras reads a ".h5" as Keras 2's layout: name it as Keras 3's
            member = Path(folder) / WEIGHTS_MEMBER
            member.symlink_to(path.resolve())
        return _from_weights_file(graph, member, str(path), notes)


def layer_outputs(built: Built, inputs: dict[str, Any]) -> dict[str, list[np.ndarray]]:
    """Every layer's output(s) at inference, in the spec's layout, keyed by layer name
    (a share node too: its outputs are those of its own call of the shared layer)."""
    tensors = built.extra["tensors"]
    skip = {*built.unsupported, *built.graph.inputs}
    names = [n.name for n in built.graph.nodes if n.name in tensors and n.name not in skip]
    probe = keras.Model(inputs=built.model.inputs, outputs=[t for n in names for t in tensors[n]])
    feed = [
        keras.ops.convert_to_tensor(inputs[n], built.graph.node(n).dtype)
        for n in built.graph.inputs
    ]
    values = probe(feed, training=False)
    values = list(values) if isinstance(values, list | tuple) else [values]
    found: dict[str, list[np.ndarray]] = {}
    for name in names:
        count = len(tensors[name])
        found[name] = [keras.ops.convert_to_numpy(v) for v in values[:count]]
        values = values[count:]
    return found
