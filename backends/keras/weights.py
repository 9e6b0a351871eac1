"""Reading and writing the weights of a built Keras model, by IR layer and tensor name.

A tensor's name is its variable path without the leading ``<layer>/`` (``lstm_cell/kernel``,
``forward_lstm/lstm_cell/bias``), exactly the IR's Keras ``WeightSpec`` names. Files: a
``.keras`` model is read by layer name; a ``.weights.h5`` file holds no layer names, so it
is loaded into the spec's own model by structure, as Keras's ``load_weights`` does.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import keras
import numpy as np

from backends.base import Built
from backends.keras.model import build
from translator.errors import WeightsError
from translator.ir import Graph
from translator.weights.canonical import Weights, check_weights

# Keras's assign() message for a wrong shape names the variable and both shapes.
_ASSIGN = re.compile(
    r"variable\.shape=(\([\d, ]*\)), Received: value\.shape=(\([\d, ]*\))"
    r".*?Target variable: <Variable path=([^,]+),",
    re.DOTALL,
)


def _variables(layer: Any) -> dict[str, Any]:
    prefix = f"{layer.name}/"
    return {v.path.removeprefix(prefix): v for v in layer.weights}


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
    return built


def _from_model_file(graph: Graph, path: Path) -> Weights:
    """A saved ``.keras`` model (exported, or the backend's own), read by layer name."""
    from backends.keras.export import load_exported  # reads both layouts

    return load_exported(graph, path)


def _keras_message(graph: Graph, exc: Exception) -> str:
    """Keras's loading error as one line naming the tensor when Keras names it."""
    found = _ASSIGN.search(str(exc))
    if found:
        expected, received, path = found.groups()
        layer, _, tensor = path.partition("/")
        return f"layer '{layer}' tensor '{tensor}' (keras): expected shape {expected}, received {received}"
    first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    return f"does not fit spec '{graph.name}': {first}"


def _from_weights_file(graph: Graph, path: Path) -> Weights:
    """A ``.weights.h5`` (or a ``.keras`` that Keras cannot rebuild), loaded by structure."""
    built = build(graph)
    try:
        built.model.load_weights(path)
    except Exception as exc:  # Keras raises ValueError, KeyError or OSError here
        raise WeightsError(str(path), _keras_message(graph, exc)) from None
    return get_weights(built)


def load_weights_file(graph: Graph, path: str | Path) -> Weights:
    """Weights for ``graph`` from a ``.keras`` model or a ``.weights.h5`` file."""
    path = Path(path)
    if path.name.endswith(".keras"):
        try:
            return _from_model_file(graph, path)
        except Exception:
            pass  # Keras alone cannot rebuild it: load it by structure instead
    return _from_weights_file(graph, path)


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
