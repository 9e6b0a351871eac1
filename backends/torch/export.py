"""Export to PyTorch: ``model.pt``, a state_dict, and ``model.py``, a standalone module.

``EMITTERS`` (``backends/torch/standalone/emitters.py``, which registers the breadth layer
families; the original ones are registered here) holds, per spec layer type, the
constructor call of its standalone module (``backends/torch/standalone/``) with the IR's
arguments; ``standalone.network`` writes the network class around those calls and
``standalone.assemble`` copies in the runtime definitions they use. The module's state_dict
keys are ``"<layer>.<tensor>"``, the scheme ``model.pt`` is written in
(``backends.torch.weights.save_state_dict``). Image and volume inputs and outputs are
channels first (``translator.commands.export.natural_axes``); inside, tensors keep the spec's layout
between layers, exactly as in the backend.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path
from typing import Any

import numpy as np
import torch

from backends.torch.pooling import global_arguments, pool_arguments
from backends.torch.recurrent import CELLS, cell_name, native_is_exact
from backends.torch.standalone.assemble import Call, call
from backends.torch.standalone.emitters import EMITTERS, arguments, trailing_axes
from backends.torch.standalone.network import class_name, model_source
from backends.torch.weights import save_state_dict
from translator.ir import Graph, Node
from translator.ops.conv import split_channels
from translator.ops.normalization import normalized_axes
from translator.ops.pooling import GLOBAL_POOLS, POOLS
from translator.ops.recurrent import sequence_dims
from translator.weights.canonical import Weights

FILE = "model.pt"
SOURCE = "model.py"
NATURAL = True  # inputs and outputs in PyTorch's natural layout (translator.commands.export)


@EMITTERS.register("Dense")
def _dense(node: Node) -> Call:
    # A tied Dense holds only its bias; the network hands it the Embedding's weight.
    kind = "Dense" if node.args["tie"] is None else "TiedDense"
    return call(kind, node.input_shape[-1], **arguments(node, "units", "activation", "use_bias"))


@EMITTERS.register("Embedding")
def _embedding(node: Node) -> Call:
    return call("Embedding", node.args["input_dim"], node.args["output_dim"])


@EMITTERS.register("Dropout")
def _dropout(node: Node) -> Call:
    return call("nn.Dropout", node.args["rate"])  # the identity after model.eval()


@EMITTERS.register("Activation")
def _activation(node: Node) -> Call:
    return call("make_activation", node.args["activation"])


@EMITTERS.register("ReLU")
def _relu(node: Node) -> Call:
    return call("ReLU", **arguments(node, "max_value", "negative_slope", "threshold"))


@EMITTERS.register("LeakyReLU")
def _leaky_relu(node: Node) -> Call:
    return call("nn.LeakyReLU", node.args["negative_slope"])


@EMITTERS.register("Softmax")
def _softmax(node: Node) -> Call:
    return call("Softmax", node.args["axis"])


@EMITTERS.register("Conv1D", "Conv2D", "Conv3D")
def _conv(node: Node) -> Call:
    _, channels = split_channels(node, len(node.args["kernel_size"]))
    names = ("filters", "kernel_size", "strides", "padding", "data_format", "dilation_rate")
    more = ("groups", "activation", "use_bias")
    return call(node.type, channels, **arguments(node, *names, *more))


@EMITTERS.register("BatchNormalization")
def _batch_norm(node: Node) -> Call:
    (index,) = normalized_axes(node)
    channels, axis = node.input_shape[index], index + 1  # the batch axis is 0
    return call(
        "BatchNormalization",
        channels,
        axis=axis,
        **arguments(node, "momentum", "epsilon", "center", "scale"),
    )


@EMITTERS.register("LayerNormalization")
def _layer_norm(node: Node) -> Call:
    shape, where = trailing_axes(node)
    more = arguments(node, "epsilon", "center", "scale")
    return call("LayerNormalization", shape, **where, **more)


@EMITTERS.register(*POOLS)
def _pooling(node: Node) -> Call:
    kind = "MaxPooling" if node.type.startswith("Max") else "AveragePooling"
    return call(kind, **pool_arguments(node))


@EMITTERS.register(*GLOBAL_POOLS)
def _global_pooling(node: Node) -> Call:
    reduce, dims, keepdims = global_arguments(node)
    return call("GlobalPooling", reduce, dims=dims, keepdims=keepdims)


@EMITTERS.register("Flatten", "Add")
def _plain(node: Node) -> Call:
    return call(node.type)


@EMITTERS.register("Reshape", "Permute", "Concatenate")
def _same_arguments(node: Node) -> Call:
    return call(node.type, **node.args)


@EMITTERS.register("TimeDistributed")
def _time_distributed(node: Node) -> Call:
    inner = _inner(node)
    return call("TimeDistributed", EMITTERS[inner.type](inner))


def _recurrent(node: Node, **two_directions: Any) -> Call:
    """The native class when the backend uses the native module, else ``CustomRecurrent``."""
    a = node.args
    _, features = sequence_dims(node)
    flags = {**arguments(node, "use_bias", "return_sequences", "go_backwards"), **two_directions}
    if a["num_layers"] > 1:  # left out otherwise, as the runtime's default
        flags["num_layers"] = a["num_layers"]
    if native_is_exact(node):
        activation = {"activation": a["activation"]} if node.type == "SimpleRNN" else {}
        return call(node.type, features, units=a["units"], **activation, **flags)
    gates = {"recurrent_activation": a["recurrent_activation"]} if node.type != "SimpleRNN" else {}
    options = {"units": a["units"], "activation": a["activation"], **gates, **flags}
    return call("CustomRecurrent", cell_name(node), features, **options)


@EMITTERS.register(*CELLS)
def _rnn(node: Node) -> Call:
    return _recurrent(node)


@EMITTERS.register("Bidirectional")
def _bidirectional(node: Node) -> Call:
    return _recurrent(_inner(node), bidirectional=True, merge_mode=node.args["merge_mode"])


def _inner(node: Node) -> Node:
    inner = node.inner
    if inner is None:  # the loader guarantees a wrapped layer; this is a translator bug
        raise TypeError(f"{node.name}: wrapper without a wrapped layer")
    return inner


def emit(node: Node) -> Call:
    """The standalone constructor call of ``node``'s module."""
    return EMITTERS[node.type](node)


def export(graph: Graph, weights: Weights, out: Path) -> list[tuple[Path, str]]:
    """Write ``model.pt`` (``weights`` as a state_dict) and ``model.py`` into ``out``."""
    save_state_dict(weights, out / FILE)
    (out / SOURCE).write_text(model_source(graph, emit, FILE), encoding="utf-8")
    return [
        (out / FILE, 'PyTorch state_dict, keys "<layer>.<tensor>"'),
        (out / SOURCE, f"standalone PyTorch module {class_name(graph)} (imports only torch)"),
    ]


def run_exported(graph: Graph, out: Path, inputs: list[Any]) -> list[np.ndarray]:
    """Import ``out/model.py`` by path, load ``out/model.pt`` into it and run ``inputs``
    (natural layout, ``graph.inputs`` order)."""
    spec = importlib.util.spec_from_file_location(f"exported_{graph.name}", out / SOURCE)
    if spec is None or spec.loader is None:
        raise RuntimeError(f"cannot import {out / SOURCE}")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    model = module.load(str(out / FILE))
    with torch.no_grad():
        result = model(*(torch.from_numpy(np.array(x)) for x in inputs))
    return [t.numpy() for t in (result if isinstance(result, tuple) else (result,))]
