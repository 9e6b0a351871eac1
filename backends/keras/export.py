"""Export to Keras: ``model.keras``, which Keras alone loads (no translator import needed).

The model is the backend's, layer for layer, with one change. A ``channels_first``
convolution is built by the backend as its own subclass (``Conv2DChannelsFirst``, see
``backends/keras/conv.py``), which Keras could not deserialize without the translator; here
it becomes Keras's built-in ``channels_last`` layer of the same name between two ``Permute``
layers, its activation a separate ``Activation`` layer after them. The variables are the
same (Keras keeps one kernel layout for both data formats), and so is the arithmetic: it is
what that subclass computes. The model takes the spec's layout.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Any

import keras
import numpy as np

from backends.base import Built
from backends.keras.activation import activation
from backends.keras.model import NAME, build_layer
from backends.keras.weights import set_weights
from translator.ir import Graph, Node
from translator.port import Weights
from translator.schema import SCHEMAS

FILE = "model.keras"
NATURAL = False  # inputs and outputs in the spec's layout (translator.export)
CONVOLUTIONS = ("Conv1D", "Conv2D")


def _convolution(node: Node) -> Node | None:
    """The channels_first convolution ``node`` is, or wraps; else ``None``."""
    target = node.inner or node
    if target.type in CONVOLUTIONS and target.args["data_format"] == "channels_first":
        return target
    return None


def _channels_last(node: Node, conv: Node) -> Node:
    """``node`` with its convolution made channels_last and without activation."""
    plain = replace(conv, args={**conv.args, "data_format": "channels_last", "activation": None})
    return plain if conv is node else replace(node, args={**node.args, "layer": plain})


def _fresh(graph: Graph, base: str) -> str:
    """``base``, with ``_`` appended while a spec layer has that name."""
    names = {n.name for n in graph.nodes}
    while base in names:
        base += "_"
    return base


def _detour(graph: Graph, node: Node, conv: Node, x: Any) -> tuple[Any, Any]:
    """Permute to channels_last, convolve, permute back, then the activation."""
    rank = len(node.input_shape)  # per example
    channels = rank - len(conv.args["kernel_size"])  # the channel axis, counted from 1
    to_last = (*(i for i in range(1, rank + 1) if i != channels), channels)
    back = tuple(to_last.index(i) + 1 for i in range(1, rank + 1))
    layer = build_layer(_channels_last(node, conv))
    y = keras.layers.Permute(to_last, name=_fresh(graph, f"{node.name}__channels_last"))(x)
    y = keras.layers.Permute(back, name=_fresh(graph, f"{node.name}__channels_first"))(layer(y))
    function = activation(conv.args["activation"])
    if function is not None:
        y = keras.layers.Activation(function, name=_fresh(graph, f"{node.name}__activation"))(y)
    return layer, y


def _outputs(value: Any) -> list[Any]:
    return list(value) if isinstance(value, list | tuple) else [value]


def export_model(graph: Graph) -> Built:
    """The functional model for export (weights as Keras initializes them)."""
    layers: dict[str, Any] = {}
    tensors: dict[str, list[Any]] = {}
    for node in graph.nodes:
        if not node.inputs:  # a model input: its InputLayer holds its tensor
            layers[node.name] = build_layer(node)
            tensors[node.name] = [layers[node.name].output]
            continue
        args = [t for ref in node.inputs for t in tensors[ref]]
        # Merge layers take a list of tensors; every other layer takes one tensor.
        x = args[0] if SCHEMAS[node.type].max_inputs == 1 else args
        conv = _convolution(node)
        if conv is None:
            layers[node.name] = build_layer(node)
            out = layers[node.name](x)
        else:
            layers[node.name], out = _detour(graph, node, conv, x)
        tensors[node.name] = _outputs(out)
    inputs = [tensors[name][0] for name in graph.inputs]
    outputs = [t for name in graph.outputs for t in tensors[name]]
    model = keras.Model(inputs=inputs, outputs=outputs, name=graph.name)
    return Built(NAME, graph, model, {}, {"layers": layers})


def export(graph: Graph, weights: Weights, out: Path) -> list[tuple[Path, str]]:
    """Write ``model.keras`` holding ``weights`` into ``out``."""
    built = set_weights(export_model(graph), weights)
    built.model.save(out / FILE)
    return [(out / FILE, "Keras model (built-in layers only), the spec's layout")]


def run_exported(graph: Graph, out: Path, inputs: list[Any]) -> list[np.ndarray]:
    """Load ``out/model.keras`` with Keras alone and run ``inputs`` (the spec's layout,
    ``graph.inputs`` order), in inference mode."""
    model = keras.saving.load_model(out / FILE, compile=False)
    dtypes = [graph.node(name).dtype for name in graph.inputs]
    feed = [keras.ops.convert_to_tensor(x, d) for x, d in zip(inputs, dtypes, strict=True)]
    return [keras.ops.convert_to_numpy(t) for t in _outputs(model(feed, training=False))]
