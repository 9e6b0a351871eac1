"""Export to Keras: ``model.keras``, which Keras alone loads (no translator import needed).

The model is the backend's, but where the backend uses a class of its own (which Keras
cannot load without the translator) it has Keras's built-in layers, and ``keras.ops`` calls
(a functional model saves them too), computing the same thing with the same variables:

- a ``channels_first`` convolution: the ``channels_last`` layer between ``Permute`` layers,
  its activation after them (see ``backends/keras/conv.py``); transposed convolutions are
  Keras's class (dilated ones run only where TensorFlow's CPU kernels have oneDNN);
- unequal depthwise/separable strides: TF's "same" ``ZeroPadding2D``, the layer at stride 1,
  then ``MaxPooling2D`` of size 1 with the strides (every stride-th output);
- MultiHeadAttention, GroupQueryAttention: Keras's layers with ``use_causal_mask``;
- PositionEmbedding: an ``Embedding`` (sequence_length, features) at positions 0 .. steps-1;
- a tied Dense: ``x`` times the transposed output of the tied Embedding layer at ids
  0 .. vocabulary-1 (its one matrix); a bias is the row of an ``Embedding(1, units)``;
- a recurrent stack: built-in layers chained, layer i > 0 named ``<name>_layer_<i>``;
- a shared layer: the original's layer (or rewrite) called again;
- an activation Keras saves by no name (``gelu_tanh``): the layer without it, then the
  ``keras.ops`` call (``OPS_ONLY`` in ``backends/keras/activation.py``).

Each rewrite lives in its layer family's module, registered in ``EXPORT_REWRITES``
(``backends/keras/model.py``). ``variable_map`` finds each IR tensor's variable in such a model, built or loaded
(``load_exported``). The model takes the spec's layout.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Any

import keras
import numpy as np

from backends.base import Built
from backends.keras.activation import OPS_ONLY
from backends.keras.model import (
    EXPORT_REWRITES,
    NAME,
    Apply,
    build_layer,
    chain,
    named_variables,
)
from backends.keras.weights import refresh
from translator.errors import UnsupportedInBackend
from translator.ir import Graph, Node
from translator.ir.layout import stack_name
from translator.spec.schema import SCHEMAS
from translator.weights.canonical import Weights, check_weights

FILE = "model.keras"
NATURAL = False  # inputs and outputs in the spec's layout (translator.commands.export)


def _stack(graph: Graph, node: Node) -> tuple[Any, Apply]:
    """A recurrent stack as built-in layers chained (see the module docstring)."""
    count, last = node.args["num_layers"], node.args["return_sequences"]
    layers = []
    for i in range(count):
        args = {**node.args, "num_layers": 1, "return_sequences": i + 1 < count or last}
        name = stack_name(graph, node.name, i) if i else node.name
        layers.append(build_layer(replace(node, name=name, args=args)))
    return layers[0], chain(layers)


def _ops_only(node: Node, target: Node) -> tuple[Node, Apply] | None:
    """``node`` without an activation Keras cannot save by name, and that activation as a
    ``keras.ops`` call to apply after it; None when its activation (if any) saves by name."""
    name = target.args.get("activation")
    if name not in OPS_ONLY:
        return None
    if "recurrent_activation" in target.args:
        reason = f"activation {name} inside a recurrence (Keras saves it by no name)"
        raise UnsupportedInBackend(NAME, node.type, reason)
    bare = replace(target, args={**target.args, "activation": None})
    if target is not node:
        bare = replace(node, args={**node.args, "layer": bare})
    return bare, OPS_ONLY[name]


def _make(graph: Graph, node: Node, layers: dict[str, Any]) -> tuple[Any, Apply]:
    """The layer holding ``node``'s variables (if any) and how to apply the node: without an
    activation Keras saves by no name (applied after it), the layer type's registered export
    rewrite, a recurrent stack chained, or the backend's layer."""
    target = node.inner or node
    split = _ops_only(node, target)
    if split is not None:
        layer, apply = _make(graph, split[0], layers)
        return layer, chain([apply, split[1]])
    rewrite = EXPORT_REWRITES.get(target.type)
    made = rewrite(graph, node, target, layers) if rewrite is not None else None
    if made is not None:
        return made
    if target.args.get("num_layers", 1) > 1:
        if target is not node:
            raise UnsupportedInBackend(
                NAME, node.type, f"a wrapped {target.type} (no built-in form)"
            )
        return _stack(graph, node)
    layer = build_layer(node)
    return layer, layer


def export_model(graph: Graph) -> Built:
    """The functional model for export (weights as Keras initializes them)."""
    layers: dict[str, Any] = {}
    applies: dict[str, Apply] = {}
    tensors: dict[str, list[Any]] = {}
    for node in graph.nodes:
        if not node.inputs:  # a model input: its InputLayer holds its tensor
            layers[node.name] = build_layer(node)
            tensors[node.name] = [layers[node.name].output]
            continue
        if node.shares:  # the original's layer (or rewrite), applied again
            applies[node.name] = applies[node.shares]
        else:
            layers[node.name], applies[node.name] = _make(graph, node, layers)
            if node.frozen:  # a rewrite's layer too; model.keras keeps trainable=False
                layers[node.name].trainable = False
        args = [t for ref in node.inputs for t in tensors[ref]]
        # Merge and attention layers take a list of tensors; every other layer takes one.
        x = args[0] if SCHEMAS[node.type].max_inputs == 1 else args
        tensors[node.name] = keras.tree.flatten(applies[node.name](x))
    inputs = [tensors[name][0] for name in graph.inputs]
    outputs = [t for name in graph.outputs for t in tensors[name]]
    model = keras.Model(inputs=inputs, outputs=outputs, name=graph.name)
    return Built(NAME, graph, model, {}, {"layers": layers})


def _relative(layer: Any, prefix: str = "") -> dict[str, Any]:
    """A layer's variables by path after its name, with ``prefix`` in front."""
    return {prefix + name: v for name, v in named_variables(layer).items()}


def variable_map(graph: Graph, layers: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """IR layer → IR tensor name → its variable, in a model whose (top-level) layers are
    ``layers`` by name: an exported one, or the backend's own (a stack in one layer, a
    ``TiedDense`` holding ``bias``), so either file reads the same way."""
    found: dict[str, dict[str, Any]] = {}
    for node in (n for n in graph.nodes if n.weights.get(NAME) and not n.shares):
        layer = layers[node.name]
        if "tie" in node.links and isinstance(layer, keras.layers.Embedding):  # a tied bias
            found[node.name] = {"bias": layer.embeddings}
            continue
        found[node.name] = _relative(layer)
        for i in range(1, node.args.get("num_layers", 1)):
            stacked = layers.get(stack_name(graph, node.name, i))  # None: the backend's stack
            found[node.name] |= _relative(stacked, f"layer_{i}/") if stacked else {}
    return found


def assign(model: Any, graph: Graph, weights: Weights) -> None:
    """Copy ``weights`` (checked against the IR first) into an exported ``model``."""
    check_weights(graph, NAME, weights, "keras weights")
    layers = {layer.name: layer for layer in model.layers}
    variables = variable_map(graph, layers)
    for layer, tensors in weights.items():
        for name, value in tensors.items():
            target = variables[layer][name]
            target.assign(np.reshape(np.asarray(value, dtype=target.dtype), target.shape))
        if layer in layers:
            refresh(layers[layer])


def export(graph: Graph, weights: Weights, out: Path) -> list[tuple[Path, str]]:
    """Write ``model.keras`` holding ``weights`` into ``out``."""
    model = export_model(graph).model
    assign(model, graph, weights)
    model.save(out / FILE)
    return [(out / FILE, "Keras model (built-in layers only), the spec's layout")]


def load_exported(graph: Graph, path: str | Path) -> Weights:
    """The weights in an exported ``model.keras``, by IR layer and tensor name."""
    model = keras.saving.load_model(path, compile=False)
    variables = variable_map(graph, {layer.name: layer for layer in model.layers})
    specs = {n.name: {w.name: w.shape for w in n.weights.get(NAME, ())} for n in graph.nodes}
    return {
        layer: {name: np.reshape(v.numpy(), specs[layer][name]) for name, v in tensors.items()}
        for layer, tensors in variables.items()
    }


def run_exported(graph: Graph, out: Path, inputs: list[Any]) -> list[np.ndarray]:
    """Load ``out/model.keras`` with Keras alone and run ``inputs`` (the spec's layout,
    ``graph.inputs`` order), in inference mode."""
    model = keras.saving.load_model(out / FILE, compile=False)
    dtypes = [graph.node(name).dtype for name in graph.inputs]
    feed = [keras.ops.convert_to_tensor(x, d) for x, d in zip(inputs, dtypes, strict=True)]
    return [keras.ops.convert_to_numpy(t) for t in keras.tree.flatten(model(feed, training=False))]
