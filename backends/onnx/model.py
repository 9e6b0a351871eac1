"""Assembling an ONNX model from the IR graph, measuring it and running it in onnxruntime.

Every layer becomes standard ONNX operators (one opset). Initializers follow one naming rule
so ``measure`` can tell weights from constants by name alone: a layer's weights are
``<layer>.<tensor>`` (the IR's ONNX ``WeightSpec`` names); every other constant (shapes, axes,
pads, clip bounds, ones standing in for a missing scale, ...) is ``<layer>/const/<label>``.
A wrapped layer's tensors belong to its wrapper (``Layer.owner``), as the IR counts them; a
layer that shares another (``node.shares``) reuses that layer's initializers (``Layer.source``).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import onnx
from onnx import helper, numpy_helper

from backends.base import BuilderRegistry, Built, MeasuredTensor, Measurement
from translator.errors import BackendError, UnsupportedInBackend
from translator.ir import Graph, Node, Shape
from translator.ir.layout import natural_axes, tensor_layouts, to_layout

NAME = "onnx"
# The metadata key under which an export names the spec's frozen layers (ONNX has no flag).
FROZEN_KEY = "model-spec-translator.frozen"
OPSET = 21
IR_VERSION = 10  # the IR version released with opset 21 (onnx 1.16); onnxruntime 1.32 reads it
CONST_MARK = "/const/"
FLOAT_TYPES = (
    onnx.TensorProto.FLOAT,
    onnx.TensorProto.DOUBLE,
    onnx.TensorProto.FLOAT16,
    onnx.TensorProto.BFLOAT16,
)
DTYPES = {
    "float32": onnx.TensorProto.FLOAT,
    "int32": onnx.TensorProto.INT32,
    "int64": onnx.TensorProto.INT64,
}

Builder = Callable[["Layer", list[str]], list[str]]
BUILDERS: BuilderRegistry[Builder] = BuilderRegistry(NAME)


def _glorot(rng: np.random.Generator, shape: tuple[int, ...]) -> np.ndarray:
    # ONNX kernels keep the output axis first and the input axes after it (Gemm's W is the
    # exception, (in, out), but any split of the axes gives a sane scale here).
    fan_in = math.prod(shape[1:]) if len(shape) > 1 else shape[0]
    fan_out = shape[0] * math.prod(shape[2:])
    limit = math.sqrt(6.0 / max(1, fan_in + fan_out))
    return _uniform(-limit, limit)(rng, shape)


def _uniform(low: float, high: float) -> Callable[[np.random.Generator, tuple[int, ...]], Any]:
    def draw(rng: np.random.Generator, shape: tuple[int, ...]) -> Any:
        value = rng.random(shape, dtype=np.float32)  # no float64 copy of a large embedding
        value *= high - low
        value += low
        return value

    return draw


# Seeded starting values by WeightSpec role: the one place that decides them, so real
# weights passed to ``build(weights=...)`` replace exactly this.
KERNELS = ("kernel", "recurrent_kernel", "depthwise_kernel", "pointwise_kernel")
BIASES = ("bias", "input_bias", "recurrent_bias")
PROJECTIONS = ("query", "key", "value", "output")  # attention: a kernel and a bias per role
INITIAL_VALUES: dict[str, Callable[[np.random.Generator, tuple[int, ...]], Any]] = {
    **dict.fromkeys((*KERNELS, *(f"{p}_kernel" for p in PROJECTIONS)), _glorot),
    **dict.fromkeys((*BIASES, *(f"{p}_bias" for p in PROJECTIONS)), _uniform(-0.05, 0.05)),
    "embeddings": _uniform(-0.05, 0.05),
    "gamma": _uniform(0.9, 1.1),
    "beta": _uniform(-0.1, 0.1),
    "moving_mean": _uniform(-0.1, 0.1),
    "moving_variance": _uniform(0.5, 1.5),
    "mean": _uniform(-0.1, 0.1),  # Normalization: a stored mean and a positive variance
    "variance": _uniform(0.5, 1.5),
    "alpha": _uniform(0.0, 0.3),  # PReLU slopes: Keras starts at zeros, small ones test more
}


@dataclass
class GraphBuilder:
    """The ONNX graph under construction: nodes, initializers, inputs and taken names."""

    rng: np.random.Generator
    supplied: dict[str, dict[str, np.ndarray]]
    nodes: list[onnx.NodeProto] = field(default_factory=list)
    initializers: list[onnx.TensorProto] = field(default_factory=list)
    inputs: list[onnx.ValueInfoProto] = field(default_factory=list)
    taken: set[str] = field(default_factory=set)
    layers: dict[str, Node] = field(default_factory=dict)  # IR nodes seen, for ``shares``
    ir: Graph | None = None  # the graph being built (its layout decides how inputs are declared)

    def fresh(self, base: str) -> str:
        """``base``, or ``base_1``, ``base_2``, ... whichever is not yet a tensor name."""
        name, n = base, 0
        while name in self.taken:
            n += 1
            name = f"{base}_{n}"
        self.taken.add(name)
        return name

    def add_input(
        self, name: str, dtype: str, shape: Shape, axes: tuple[int, ...] | None = None
    ) -> str:
        """Declare a graph input: a symbolic batch, and a named symbol per free dimension,
        in the order ``axes`` gives (PyTorch's natural layout of an image), else the spec's."""
        self.taken.add(name)
        dims: list[Any] = [
            "batch",
            *(d if d is not None else f"{name}_dim{i + 1}" for i, d in enumerate(shape)),
        ]
        if axes is None and self.ir is not None and name in self.ir.inputs:
            axes = natural_axes(self.ir, shape)
        dims = dims if axes is None else [dims[a] for a in axes]
        self.inputs.append(helper.make_tensor_value_info(name, DTYPES[dtype], dims))
        return name

    def mark(self) -> tuple[int, int, int]:
        return len(self.nodes), len(self.initializers), len(self.inputs)

    def rollback(self, mark: tuple[int, int, int]) -> None:
        """Drop what a layer added before it turned out to be unsupported."""
        del self.nodes[mark[0] :], self.initializers[mark[1] :], self.inputs[mark[2] :]


@dataclass
class Layer:
    """What a builder works with: the IR ``node`` it implements, the ``owner`` node that names
    its operators and constants (the wrapper, when wrapped) and the ``source`` node whose
    ``WeightSpec`` entries its initializers carry (the owner, or the layer a share applies)."""

    graph: GraphBuilder
    node: Node
    owner: Node
    source: Node

    @classmethod
    def of(cls, graph: GraphBuilder, node: Node) -> Layer:
        """The layer building ``node``: a shared node takes its original's initializers."""
        return cls(graph, node, node, graph.layers[node.shares] if node.shares else node)

    @property
    def args(self) -> dict[str, Any]:
        return self.node.physical_args

    def wrapped(self, node: Node) -> Layer:
        """The layer for a wrapped ``node``; its tensors stay the wrapper's."""
        return Layer(self.graph, node, self.owner, self.source)

    def op(self, op_type: str, inputs: list[str], **attrs: Any) -> str:
        return self.ops(op_type, inputs, 1, **attrs)[0]

    def ops(self, op_type: str, inputs: list[str], count: int, **attrs: Any) -> list[str]:
        """Add one ONNX node with ``count`` outputs; returns the output tensor names."""
        first = self.graph.fresh(f"{self.owner.name}/{op_type}")
        outputs = [first] + [self.graph.fresh(f"{first}:{i}") for i in range(1, count)]
        self.graph.nodes.append(helper.make_node(op_type, inputs, outputs, name=first, **attrs))
        return outputs

    def const(self, label: str, value: Any, dtype: Any = np.float32) -> str:
        name = self.graph.fresh(f"{self.owner.name}{CONST_MARK}{label}")
        array = np.asarray(value, dtype=dtype)
        self.graph.initializers.append(numpy_helper.from_array(array, name))
        return name

    def ints(self, label: str, values: Any) -> str:
        return self.const(label, values, np.int64)

    def weight(self, tensor: str) -> str:
        """The owner's weight ``tensor`` (an IR ONNX WeightSpec name), created on first use."""
        name = f"{self.source.name}.{tensor}"
        if name in self.graph.taken:
            return name
        specs = {w.name: w for w in self.source.weights.get(NAME, ())}
        if tensor not in specs:
            raise BackendError(
                f"layer '{self.source.name}': the IR predicts no ONNX tensor {tensor!r}"
                f" (it predicts {sorted(specs)}); the onnx builder and the IR disagree"
            )
        spec = specs[tensor]
        value = self.graph.supplied.get(self.source.name, {}).get(tensor)
        if value is None:
            value = INITIAL_VALUES[spec.role](self.graph.rng, spec.shape)
        self.graph.taken.add(name)
        value = np.asarray(value, dtype=np.float32)  # supplied weights may be float64
        self.graph.initializers.append(numpy_helper.from_array(value, name))
        return name


def check_weights(graph: Graph, weights: dict[str, dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """Validate ``{layer: {onnx tensor: array}}``: every layer gives exactly its IR tensors."""
    out: dict[str, dict[str, Any]] = {}
    for layer, tensors in weights.items():
        try:
            node = graph.node(layer)
        except KeyError:
            names = sorted(n.name for n in graph.nodes if n.weights.get(NAME))
            raise BackendError(
                f"onnx weights: the spec has no layer {layer!r}; layers with weights: {names}"
            ) from None
        expected = {w.name: w.shape for w in node.weights.get(NAME, ())}
        if set(tensors) != set(expected):
            raise BackendError(
                f"onnx weights for layer '{layer}': expected tensors {sorted(expected)},"
                f" received {sorted(tensors)}"
            )
        out[layer] = {name: np.asarray(value, dtype=np.float32) for name, value in tensors.items()}
        for name, array in out[layer].items():
            if array.shape != expected[name]:
                raise BackendError(
                    f"onnx weights for '{layer}.{name}': expected shape {expected[name]},"
                    f" received {array.shape}"
                )
    return out


def _build_node(
    graph: GraphBuilder, node: Node, inputs: list[str], gaps: dict[str, str]
) -> list[str]:
    """Build one layer; an unsupported one becomes placeholder inputs so the rest still builds."""
    mark = graph.mark()
    graph.layers[node.name] = node
    try:  # a share of an unsupported layer has its type and args, so it fails the same way
        return BUILDERS[node.type](Layer.of(graph, node), inputs)
    except UnsupportedInBackend as exc:
        graph.rollback(mark)
        gaps[node.name] = exc.reason
        return [
            graph.add_input(graph.fresh(f"{node.name}/unsupported_{i}"), "float32", shape)
            for i, shape in enumerate(node.output_shapes)
        ]


def build_layers(builder: GraphBuilder, graph: Graph, gaps: dict[str, str]) -> dict[str, list[str]]:
    """Every node's operators, in order, each input in the layout its layer runs in; the
    tensors each node gives."""
    from backends.onnx.export import converted  # lazily: export builds on this module

    builder.ir = graph
    tensors: dict[str, list[str]] = {}
    for node in graph.nodes:
        tensors[node.name] = _build_node(builder, node, converted(builder, node, tensors), gaps)
    return tensors


def build(graph: Graph, seed: int = 0, weights: dict[str, dict[str, Any]] | None = None) -> Built:
    """Build the ONNX model of ``graph``; ``weights`` (``{layer: {tensor: array}}``) replaces
    the seeded starting values of the layers it names."""
    from backends.onnx.export import finished, graph_outputs  # lazily: export builds on this

    builder = GraphBuilder(np.random.default_rng(seed), check_weights(graph, weights or {}))
    gaps: dict[str, str] = {}
    tensors = build_layers(builder, graph, gaps)
    outputs = graph_outputs(builder, graph, tensors)
    model, extra = finished(builder, graph, outputs, runs=not gaps)
    return Built(NAME, graph, model, gaps, extra)


def is_weight(initializer: onnx.TensorProto) -> bool:
    """A weight is a floating-point initializer outside the ``/const/`` namespace."""
    return initializer.data_type in FLOAT_TYPES and CONST_MARK not in initializer.name


def measure(built: Built) -> Measurement:
    """Per layer, the weight initializers named ``<layer>.<tensor>``; totals over all."""
    found: dict[str, list[MeasuredTensor]] = {}
    total = 0
    for init in built.model.graph.initializer:
        if is_weight(init):
            layer, _, tensor = init.name.partition(".")
            found.setdefault(layer, []).append(MeasuredTensor(tensor, tuple(init.dims)))
            total += math.prod(init.dims)
    layers = {}
    for node in built.graph.nodes:
        if node.name not in built.unsupported:
            tensors = tuple(found.get(node.name, ()))
            layers[node.name] = (tensors, {"total": sum(math.prod(t.shape) for t in tensors)})
    return Measurement(NAME, layers, {"total": total})


def run(built: Built, inputs: dict[str, Any]) -> list[Any]:
    """Inference on ``inputs`` (the spec's layout; the model takes and gives PyTorch's
    natural one); one array per output tensor, in order, in the spec's layout."""
    if built.unsupported:
        reasons = "; ".join(f"{k}: {v}" for k, v in built.unsupported.items())
        raise BackendError(f"the onnx model of '{built.graph.name}' cannot run: {reasons}")
    missing = [name for name in built.graph.inputs if name not in inputs]
    if missing:
        raise BackendError(
            f"onnx run: missing inputs {missing}; the model takes {built.graph.inputs}"
        )
    layouts = tensor_layouts(built.graph)
    arrays = [
        np.asarray(inputs[name], dtype=built.graph.node(name).dtype) for name in built.graph.inputs
    ]
    feeds = dict(zip(built.graph.inputs, to_layout(arrays, layouts.inputs, True), strict=True))
    outputs = built.extra["session"].run(None, feeds)
    return to_layout(outputs, layouts.outputs, True, back=True)
