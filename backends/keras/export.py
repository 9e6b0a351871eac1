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
- a shared layer: the original's layer (or rewrite) called again.

``variable_map`` finds each IR tensor's variable in such a model, built or loaded
(``load_exported``). The model takes the spec's layout.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from functools import reduce
from pathlib import Path
from typing import Any

import keras
import numpy as np

from backends.base import Built
from backends.keras.activation import activation
from backends.keras.attention import roles
from backends.keras.conv_transpose import TRANSPOSES as KERAS_TRANSPOSES
from backends.keras.model import NAME, build_layer, keras_args
from translator.errors import UnsupportedInBackend
from translator.ir import Graph, Node
from translator.ir.layout import fresh_name, same_pads, stack_name
from translator.ops.conv_transpose import TRANSPOSES
from translator.ops.depthwise import DEPTHWISE, SEPARABLE
from translator.spec.schema import SCHEMAS
from translator.weights.canonical import Weights, check_weights

FILE = "model.keras"
NATURAL = False  # inputs and outputs in the spec's layout (translator.commands.export)
CONVOLUTIONS = frozenset({"Conv1D", "Conv2D", "Conv3D", *TRANSPOSES, *DEPTHWISE, *SEPARABLE})
ATTENTION = {
    "MultiHeadAttention": keras.layers.MultiHeadAttention,
    "GroupQueryAttention": keras.layers.GroupQueryAttention,
}
# Built by the backend as classes of its own, rewritten here (but not inside a wrapper).
OWN_CLASSES = frozenset({*ATTENTION, "PositionEmbedding"})
Apply = Callable[[Any], Any]


def _chain(steps: list[Any]) -> Apply:
    """The steps applied one after the other."""
    return lambda x: reduce(lambda y, step: step(y), steps, x)


def _uneven(conv: Node) -> bool:
    """A depthwise or separable convolution with unequal strides."""
    return conv.type in {*DEPTHWISE, *SEPARABLE} and len(set(conv.args["strides"])) > 1


def _rewritten(node: Node) -> Node | None:
    """The convolution ``node`` is, or wraps, when it needs built-in layers around it."""
    target = node.inner or node
    if target.type not in CONVOLUTIONS:
        return None
    moved = target.args["data_format"] == "channels_first"
    return target if moved or _uneven(target) or target.type in TRANSPOSES else None


def _plain(node: Node, conv: Node) -> Node:
    """``node`` with its convolution channels_last, without activation when channels_first
    (it comes after the permute back) and at stride 1 without padding when uneven."""
    args = {**conv.args, "data_format": "channels_last"}
    if conv.args["data_format"] == "channels_first":
        args["activation"] = None
    if _uneven(conv):
        args.update(strides=(1,) * len(args["strides"]), padding="valid")
    plain = replace(conv, args=args)
    return plain if conv is node else replace(node, args={**node.args, "layer": plain})


def _step(graph: Graph, node: Node, role: str, layer_class: Any, *args: Any) -> Any:
    """A channels_last step of ``node``'s rewrite, in a TimeDistributed when ``node`` is one."""
    name = fresh_name(graph, f"{node.name}__{role}")
    wrapped = node.inner is not None
    layer = layer_class(*args, data_format="channels_last", name=name + "_inner" * wrapped)
    return keras.layers.TimeDistributed(layer, name=name) if wrapped else layer


def _conv_steps(graph: Graph, node: Node, conv: Node) -> tuple[list[Any], list[Any]]:
    """The built-in layers before and after the convolution, channels_last inside."""
    before, after = [], []
    if conv.args["data_format"] == "channels_first":
        rank = len(node.input_shape)  # per example
        channels = rank - len(conv.args["kernel_size"])  # the channel axis, counted from 1
        to_last = (*(i for i in range(1, rank + 1) if i != channels), channels)
        back = tuple(to_last.index(i) + 1 for i in range(1, rank + 1))
        before.append(keras.layers.Permute(to_last, name=fresh_name(graph, f"{node.name}__last")))
        after.append(keras.layers.Permute(back, name=fresh_name(graph, f"{node.name}__first")))
    if _uneven(conv):
        if conv.args["padding"] == "same":
            pads = same_pads(conv, NAME)
            before.append(_step(graph, node, "pad", keras.layers.ZeroPadding2D, pads))
        pool = _step(graph, node, "strides", keras.layers.MaxPooling2D, 1, conv.args["strides"])
        after.insert(0, pool)
    function = activation(conv.args["activation"])
    if function is not None and conv.args["data_format"] == "channels_first":
        name = fresh_name(graph, f"{node.name}__activation")
        after.append(keras.layers.Activation(function, name=name))
    return before, after


def _conv(graph: Graph, node: Node, conv: Node) -> tuple[Any, Apply]:
    """The built-in convolution and the steps around it (see the module docstring)."""
    plain = _plain(node, conv)
    if conv.type in TRANSPOSES:  # Keras's class, not the backend's portable one
        target = plain.inner or plain
        keras_class = KERAS_TRANSPOSES[(conv.type, True)]
        layer = keras_class(**keras_args(target, activation=activation(target.args["activation"])))
        if node.inner is not None:
            layer = keras.layers.TimeDistributed(layer, name=node.name)
    else:
        layer = build_layer(plain)
    before, after = _conv_steps(graph, node, conv)
    return layer, _chain([*before, layer, *after])


def _attention(node: Node) -> tuple[Any, Apply]:
    """Keras's attention layer on (query, value, key), causal as the spec says."""
    query, value, _ = roles(node.input_shapes)
    if node.type == "GroupQueryAttention" and query[-1] != value[-1]:
        # Keras's layer refuses (in compute_output_shape, so at every load too).
        reason = f"Keras's refuses a query {query[-1]} wide with values {value[-1]} wide"
        raise UnsupportedInBackend(NAME, node.type, reason)
    args = {k: v for k, v in keras_args(node).items() if k != "causal"}
    layer = ATTENTION[node.type](**args)

    def apply(inputs: list[Any]) -> Any:
        query, value, key = roles(inputs)
        return layer(query, value, key=key, use_causal_mask=node.args["causal"])

    return layer, apply


def _counting(x: Any, axis: int = -1) -> Any:
    """0, 1, 2, ... along ``axis`` of ``x``'s shape, as int32 (cumulated ones: exact)."""
    ones = keras.ops.ones_like(x, dtype="float32")
    return keras.ops.cast(keras.ops.cumsum(ones, axis=axis) - 1, "int32")


def _position_embedding(node: Node) -> tuple[Any, Apply]:
    """An Embedding of the positions: rows 0 .. steps - 1, one per example."""
    size = (node.args["sequence_length"], node.input_shape[1])
    layer = keras.layers.Embedding(*size, name=node.name)
    return layer, lambda x: layer(_counting(x[:, :, 0]))


def _tied(graph: Graph, node: Node, layers: dict[str, Any]) -> tuple[Any, Apply]:
    """``activation(x @ E^T + bias)`` with ``E`` the tied Embedding layer's matrix."""
    target = node.links["tie"]
    embedding = layers[target.shares or target.name]
    units = node.args["units"]
    bias = keras.layers.Embedding(1, units, name=node.name) if node.args["use_bias"] else None
    function, name = activation(node.args["activation"]), fresh_name(graph, f"{node.name}__act")
    act = keras.layers.Activation(function, name=name) if function else None

    def apply(x: Any) -> Any:
        # One id per vocabulary row, derived from x so that it is a graph tensor.
        first = keras.ops.slice(keras.ops.reshape(x, (-1,)), [0], [1])
        ids = _counting(keras.ops.tile(first, (units,)))
        y = keras.ops.matmul(x, keras.ops.transpose(embedding(ids)))
        if bias is not None:
            y = y + bias(keras.ops.zeros_like(keras.ops.slice(ids, [0], [1])))
        return act(y) if act else y

    return bias, apply


def _stack(graph: Graph, node: Node) -> tuple[Any, Apply]:
    """A recurrent stack as built-in layers chained (see the module docstring)."""
    count, last = node.args["num_layers"], node.args["return_sequences"]
    chain = []
    for i in range(count):
        args = {**node.args, "num_layers": 1, "return_sequences": i + 1 < count or last}
        name = stack_name(graph, node.name, i) if i else node.name
        chain.append(build_layer(replace(node, name=name, args=args)))
    return chain[0], _chain(chain)


def _make(graph: Graph, node: Node, layers: dict[str, Any]) -> tuple[Any, Apply]:
    """The layer holding ``node``'s variables (if any) and how to apply the node."""
    conv = _rewritten(node)
    if conv is not None:
        return _conv(graph, node, conv)
    if node.type in ATTENTION:
        return _attention(node)
    if node.type == "PositionEmbedding":
        return _position_embedding(node)
    if node.type == "Dense" and node.args["tie"] is not None:
        return _tied(graph, node, layers)
    if node.args.get("num_layers", 1) > 1:
        return _stack(graph, node)
    inner = node.inner
    if inner and (inner.type in OWN_CLASSES or inner.args.get("num_layers", 1) > 1):
        raise UnsupportedInBackend(NAME, node.type, f"a wrapped {inner.type} (no built-in form)")
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
    return {prefix + v.path.removeprefix(f"{layer.name}/"): v for v in layer.weights}


def variable_map(graph: Graph, layers: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """IR layer → IR tensor name → its variable, in a model whose (top-level) layers are
    ``layers`` by name: an exported one, or the backend's own (a stack in one layer, a
    ``TiedDense`` holding ``bias``), so either file reads the same way."""
    found: dict[str, dict[str, Any]] = {}
    for node in (n for n in graph.nodes if n.weights.get(NAME) and not n.shares):
        layer = layers[node.name]
        if node.type == "Dense" and isinstance(layer, keras.layers.Embedding):  # a tied bias
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
    variables = variable_map(graph, {layer.name: layer for layer in model.layers})
    for layer, tensors in weights.items():
        for name, value in tensors.items():
            target = variables[layer][name]
            target.assign(np.reshape(np.asarray(value, dtype=target.dtype), target.shape))


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
