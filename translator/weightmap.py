"""Declarative weight maps: how each framework's tensors are made from the canonical ones.

The canonical layout is Keras's, with every recurrent bias split into an input part and a
recurrent part (``input_bias``, ``recurrent_bias``), so that PyTorch's and ONNX's double
biases round-trip exactly and Keras's single bias is their folded sum. Keys are
``<layer>/<role path>``: ``dense/kernel``, ``lstm/input_bias``, ``bi/forward/kernel``,
``lstm/layer_1/kernel`` (the second layer of a ``num_layers`` stack).

Per layer type, a map lists per framework one ``Entry`` per framework tensor: the target
(the IR ``WeightSpec`` name), the canonical sources and a named transform (``transpose``,
``reorder_gates('zrh', 'rzh')``, ``fold``, ``pack``, ...). Every transform has an exact
inverse, except ``fold`` (its inverse puts the sum in the first source and zeros in the
rest) and ``zeros`` (PyTorch bookkeeping, not carried). Nothing here imports a framework;
numpy is imported inside the functions that move arrays. The breadth layers' maps (3-D,
transposed, depthwise and separable convolutions, PReLU, Group- and RMSNormalization,
attention, PositionEmbedding) are in ``translator.weightmap_breadth``, registered on import.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field, replace

from translator.ir import FRAMEWORKS, Node
from translator.ops.recurrent import GATES, KERAS_CELL
from translator.registry import Registry
from translator.transforms import (
    SAME,
    Combine,
    Fold,
    Map,
    One,
    Pack,
    Reshape,
    Shape,
    Transpose,
    Zeros,
    gated,
)


@dataclass(frozen=True)
class Entry:
    """One framework tensor (``target``, relative to its layer) made from canonical
    ``sources`` (role paths relative to the layer) by ``combine``."""

    target: str
    sources: tuple[str, ...]
    combine: Combine = field(default_factory=One)

    def describe(self) -> str:
        return f"{self.target} = {self.combine.describe(self.sources)}"


def e(target: str, *sources: str, via: Map = SAME) -> Entry:
    """A one-source entry (the common case), through the map ``via``."""
    return Entry(target, sources, One(via))


@dataclass(frozen=True)
class LayerMap:
    """A layer's canonical tensors (role path → shape) and, per framework, its entries."""

    canonical: dict[str, Shape]
    entries: dict[str, tuple[Entry, ...]]


MapRule = Callable[[Node], LayerMap]
MAPS: Registry[MapRule] = Registry("weight map")


def weight_map(*types: str) -> Callable[[MapRule], MapRule]:
    """Register the weight map of one or more layer types."""
    return MAPS.register(*types)


def ir_names(node: Node, framework: str) -> dict[str, Shape]:
    """The framework's tensors for ``node`` as the IR predicts them: name → shape."""
    return {w.name: w.shape for w in node.weights.get(framework, ())}


def _present(node: Node, tables: dict[str, tuple[Entry, ...]]) -> dict[str, tuple[Entry, ...]]:
    """Each framework's entries whose target the IR has (``use_bias``, ``center`` and
    ``scale`` decide which tensors exist; the IR is the one place that says so)."""
    return {fw: tuple(x for x in tables[fw] if x.target in ir_names(node, fw)) for fw in FRAMEWORKS}


def simple_map(node: Node, tables: dict[str, tuple[Entry, ...]]) -> LayerMap:
    """A map whose canonical tensors are exactly Keras's (every layer but the recurrent)."""
    canonical = {w.role: w.shape for w in node.weights["keras"]}
    return LayerMap(canonical, _present(node, tables))


@weight_map("Dense")
def dense_map(node: Node) -> LayerMap:
    """Keras and ONNX keep the kernel as (in, out); PyTorch as (out, in)."""
    return simple_map(
        node,
        {
            "keras": (e("kernel", "kernel"), e("bias", "bias")),
            "torch": (e("weight", "kernel", via=Transpose()), e("bias", "bias")),
            "onnx": (e("W", "kernel"), e("B", "bias")),
        },
    )


@weight_map("Conv1D", "Conv2D", "Conv3D")
def conv_map(node: Node) -> LayerMap:
    """Keras's kernel is (*window, in, out); PyTorch's and ONNX's (out, in, *window)."""
    rank = len(node.args["kernel_size"])
    oihw = Transpose((rank + 1, rank, *range(rank)))
    return simple_map(
        node,
        {
            "keras": (e("kernel", "kernel"), e("bias", "bias")),
            "torch": (e("weight", "kernel", via=oihw), e("bias", "bias")),
            "onnx": (e("W", "kernel", via=oihw), e("B", "bias")),
        },
    )


@weight_map("Embedding")
def embedding_map(node: Node) -> LayerMap:
    """One (vocabulary, size) table everywhere."""
    return simple_map(
        node,
        {
            "keras": (e("embeddings", "embeddings"),),
            "torch": (e("weight", "embeddings"),),
            "onnx": (e("embeddings", "embeddings"),),
        },
    )


# Why num_batches_tracked is not carried: PyTorch reads it only when momentum is None (a
# cumulative average), which a spec cannot ask for; it is a step counter, not a weight.
STEP_COUNTER = Zeros("int64", "PyTorch's step counter, read only when momentum is None")


@weight_map("BatchNormalization")
def batchnorm_map(node: Node) -> LayerMap:
    """Scale, offset and moving statistics, one vector each; PyTorch's statistics are
    buffers (``running_mean``, ``running_var``) beside its ``num_batches_tracked``."""
    return simple_map(
        node,
        {
            "keras": tuple(e(r, r) for r in ("gamma", "beta", "moving_mean", "moving_variance")),
            "torch": (
                e("weight", "gamma"),
                e("bias", "beta"),
                e("running_mean", "moving_mean"),
                e("running_var", "moving_variance"),
                Entry("num_batches_tracked", (), STEP_COUNTER),
            ),
            "onnx": (
                e("scale", "gamma"),
                e("B", "beta"),
                e("input_mean", "moving_mean"),
                e("input_var", "moving_variance"),
            ),
        },
    )


def _row_major(node: Node, keras_name: str, torch_name: str) -> Map:
    """Keras's scale of a multi-axis LayerNormalization → PyTorch's/ONNX's (same values in
    row-major order, another shape), or a plain copy when the shapes agree."""
    keras = ir_names(node, "keras").get(keras_name)
    torch = ir_names(node, "torch").get(torch_name)
    return Reshape(torch, keras) if keras and torch and keras != torch else SAME


@weight_map("LayerNormalization")
def layernorm_map(node: Node) -> LayerMap:
    """PyTorch and ONNX order the scale's axes increasingly; Keras orders them by the written
    axis values and reshapes the scale to the broadcast shape, so the values agree in
    row-major order."""
    gamma, beta = _row_major(node, "gamma", "weight"), _row_major(node, "beta", "bias")
    return simple_map(
        node,
        {
            "keras": (e("gamma", "gamma"), e("beta", "beta")),
            "torch": (e("weight", "gamma", via=gamma), e("bias", "beta", via=beta)),
            "onnx": (e("Scale", "gamma", via=gamma), e("B", "beta", via=beta)),
        },
    )


# Gate order of each framework's tensors, in one alphabet (LSTM i f c o, GRU z r h):
# PyTorch's LSTM i,f,g,o is Keras's i,f,c,o; its GRU r,z,n is Keras's r,z,h.
GATE_ORDERS: dict[str, dict[str, str]] = {
    "SimpleRNN": {"keras": "h", "torch": "h", "onnx": "h"},
    "LSTM": {"keras": "ifco", "torch": "ifco", "onnx": "iofc"},
    "GRU": {"keras": "zrh", "torch": "rzh", "onnx": "zrh"},
}


@dataclass(frozen=True)
class Direction:
    """One direction of a recurrent layer: its canonical prefix, Keras variable prefix and
    PyTorch name suffix."""

    canonical: str
    keras: str
    torch: str

    def key(self, layer: int) -> str:
        """The canonical prefix of stacked layer ``layer`` in this direction."""
        return f"{self.canonical}{_stack(layer)}"

    def cell(self, node: Node, layer: int) -> str:
        """The Keras variable prefix of stacked layer ``layer``'s cell in this direction."""
        return f"{self.keras}{_stack(layer)}{KERAS_CELL[node.type]}/"


def _reset_before(node: Node) -> bool:
    return node.type == "GRU" and not node.args["reset_after"]


def _stack(layer: int) -> str:
    """The path of stacked layer ``layer`` (``num_layers``) below a direction: none for the
    first, ``layer_<i>/`` after it, in Keras's variable paths and canonical keys alike."""
    return f"layer_{layer}/" if layer else ""


def _keras_rnn(node: Node, d: Direction, layer: int) -> tuple[Entry, ...]:
    cell, c = d.cell(node, layer), d.key(layer)
    biases = (f"{c}input_bias", f"{c}recurrent_bias")
    # Keras keeps one bias (the two folded), except the reset-after GRU: (2, 3u) = both.
    double = node.type == "GRU" and node.args["reset_after"]
    return (
        e(f"{cell}kernel", f"{c}kernel"),
        e(f"{cell}recurrent_kernel", f"{c}recurrent_kernel"),
        Entry(f"{cell}bias", biases, Pack() if double else Fold()),
    )


def _torch_rnn(node: Node, d: Direction, layer: int) -> tuple[Entry, ...]:
    c, s = d.key(layer), f"l{layer}{d.torch}"
    # The custom reset-before GRU keeps Keras's gate order and single bias.
    order = GATE_ORDERS[node.type]["keras" if _reset_before(node) else "torch"]
    matrix = gated(GATE_ORDERS[node.type]["keras"], order, Transpose())
    vector = gated(GATE_ORDERS[node.type]["keras"], order)
    return (
        e(f"weight_ih_{s}", f"{c}kernel", via=matrix),
        e(f"weight_hh_{s}", f"{c}recurrent_kernel", via=matrix),
        e(f"bias_ih_{s}", f"{c}input_bias", via=vector),
        e(f"bias_hh_{s}", f"{c}recurrent_bias", via=vector),
        Entry(f"bias_{s}", (f"{c}input_bias", f"{c}recurrent_bias"), Fold()),
    )


def _onnx_rnn(node: Node, directions: tuple[Direction, ...], layer: int) -> tuple[Entry, ...]:
    # One ONNX operator per stacked layer: W, R, B for the first; W_l1, R_l1, B_l1 after.
    keras, onnx = GATE_ORDERS[node.type]["keras"], GATE_ORDERS[node.type]["onnx"]
    at, prefixes = f"_l{layer}" if layer else "", [d.key(layer) for d in directions]
    kernels = tuple(f"{c}kernel" for c in prefixes)
    recurrent = tuple(f"{c}recurrent_kernel" for c in prefixes)
    biases = tuple(f"{c}{r}" for c in prefixes for r in ("input_bias", "recurrent_bias"))
    return (
        Entry(f"W{at}", kernels, Pack(gated(keras, onnx, Transpose()))),
        Entry(f"R{at}", recurrent, Pack(gated(keras, onnx, Transpose()))),
        Entry(f"B{at}", biases, Pack(gated(keras, onnx))),
    )


def _rnn_canonical(node: Node, directions: tuple[Direction, ...]) -> dict[str, Shape]:
    """Per direction and stacked layer: the kernels as Keras keeps them, biases split."""
    keras = ir_names(node, "keras")
    canonical: dict[str, Shape] = {}
    for d in directions:
        for layer in range(node.args["num_layers"]):
            cell, c = d.cell(node, layer), d.key(layer)
            canonical[f"{c}kernel"] = keras[f"{cell}kernel"]
            canonical[f"{c}recurrent_kernel"] = keras[f"{cell}recurrent_kernel"]
            if node.args["use_bias"]:
                width = (GATES[node.type] * node.args["units"],)
                canonical[f"{c}input_bias"] = width
                canonical[f"{c}recurrent_bias"] = width
    return canonical


def rnn_map(node: Node, directions: tuple[Direction, ...]) -> LayerMap:
    """Kernels as Keras keeps them; biases split in two per direction and stacked layer."""
    layers = range(node.args["num_layers"])
    tables = {
        "keras": tuple(x for d in directions for i in layers for x in _keras_rnn(node, d, i)),
        "torch": tuple(x for d in directions for i in layers for x in _torch_rnn(node, d, i)),
        "onnx": tuple(x for i in layers for x in _onnx_rnn(node, directions, i)),
    }
    return LayerMap(_rnn_canonical(node, directions), _present(node, tables))


@weight_map(*GATES)
def recurrent_map(node: Node) -> LayerMap:
    """SimpleRNN, LSTM, GRU run in one direction, with every stacked layer's tensors."""
    return rnn_map(node, (Direction("", "", ""),))


@weight_map("Bidirectional")
def bidirectional_map(node: Node) -> LayerMap:
    """Keras's forward_/backward_ copies, PyTorch's ``_reverse`` tensors, ONNX's stacked
    directions (the prefixes follow ``translator.ops.wrappers.bidirectional_weights``)."""
    inner = node.inner
    if inner is None:  # the loader guarantees a wrapped layer; this is a translator bug
        raise TypeError(f"{node.name}: Bidirectional without a wrapped layer")
    base = inner.name
    directions = (
        Direction("forward/", f"forward_{base.removeprefix('forward_')}/", ""),
        Direction("backward/", f"backward_{base.removeprefix('backward_')}/", "_reverse"),
    )
    # The wrapped node with the wrapper's tensors (both directions), which the IR holds.
    return rnn_map(replace(inner, weights=node.weights), directions)


# TimeDistributed names the wrapped layer's tensors like this in each framework (as
# ``translator.ops.wrappers.time_distributed_weights`` does).
def _td_prefix(inner: Node) -> dict[str, str]:
    return {"keras": f"{inner.name}/", "torch": "layer.", "onnx": ""}


@weight_map("TimeDistributed")
def time_distributed_map(node: Node) -> LayerMap:
    """The wrapped layer's map, with the wrapper's tensor names."""
    inner = node.inner
    if inner is None:  # the loader guarantees a wrapped layer; this is a translator bug
        raise TypeError(f"{node.name}: TimeDistributed without a wrapped layer")
    if not any(inner.weights.get(fw) for fw in FRAMEWORKS):
        return LayerMap({}, {fw: () for fw in FRAMEWORKS})
    inner_map = MAPS[inner.type](inner)
    prefix = _td_prefix(inner)
    return LayerMap(
        inner_map.canonical,
        {
            fw: tuple(Entry(prefix[fw] + x.target, x.sources, x.combine) for x in entries)
            for fw, entries in inner_map.entries.items()
        },
    )


# The breadth layers' maps live in their own module, which builds on the definitions above;
# importing it here registers them wherever MAPS is used.
from translator import weightmap_breadth  # noqa: E402, F401
