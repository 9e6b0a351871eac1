"""Assembling a functional ``keras.Model`` from the IR graph; measuring and running it.

Each IR node becomes one Keras layer named after the node (``keras.Input`` layers for model
inputs), connected as the graph says, and the whole is ``keras.Model(inputs, outputs)``.
Every name is explicit, so nothing depends on Keras's process-global name counters and
``keras.backend.clear_session()`` is never needed: it would only reset those counters and
cost a garbage collection per spec.
"""

from __future__ import annotations

import math
import random
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from functools import reduce
from typing import TYPE_CHECKING, Any

import keras

import translator.ops  # noqa: F401  (fills SCHEMAS, which BUILDERS checks its keys against)
from backends.base import BuilderRegistry, Built, MeasuredTensor, Measurement
from translator.errors import BackendError, UnsupportedInBackend
from translator.ir import Graph, Node
from translator.registry import Registry
from translator.spec.schema import SCHEMAS

NAME = "keras"

if TYPE_CHECKING:
    # The base of a mixin always put before a Keras layer class: at runtime ``object`` (the
    # Keras class follows in the MRO); to mypy, Keras's Layer, so that what the mixin reaches
    # through ``super()`` and ``self`` type-checks (Keras ships no types: it is Any).
    from keras.layers import Layer as LayerMixin
else:
    LayerMixin = object

if keras.backend.backend() != "tensorflow":
    # The IR's Keras predictions (variable paths, TF "same" padding) are made for this backend.
    raise BackendError(
        f"the keras backend needs Keras on TensorFlow, but Keras runs on "
        f"{keras.backend.backend()!r}; set KERAS_BACKEND=tensorflow before importing keras"
    )

# A builder takes a shape-inferred IR node and returns the (not yet called) Keras layer.
Builder = Callable[[Node], Any]
BUILDERS: BuilderRegistry[Builder] = BuilderRegistry(NAME)

# How an exported node is applied: its input tensor(s) → its output tensor(s).
Apply = Callable[[Any], Any]
# An export rewrite gets (graph, node, target, layers): ``target`` is ``node`` or the layer it
# wraps, ``layers`` the exported layers so far by name. It returns the layer holding the
# node's variables and how to apply the node, or None when the backend's layer will do.
ExportRewrite = Callable[[Graph, Node, Node, dict[str, Any]], "tuple[Any, Apply] | None"]
# Per layer type, how ``model.keras`` holds it where the backend uses a class of its own that
# Keras could not load without the translator (see ``backends.keras.export``).
EXPORT_REWRITES: Registry[ExportRewrite] = Registry("Keras export rewrite")


def chain(steps: list[Any]) -> Apply:
    """The steps applied one after the other."""
    return lambda x: reduce(lambda y, step: step(y), steps, x)


def counting(x: Any, axis: int = -1) -> Any:
    """0, 1, 2, ... along ``axis`` of ``x``'s shape, as int32 (cumulated ones: exact)."""
    ones = keras.ops.ones_like(x, dtype="float32")
    return keras.ops.cast(keras.ops.cumsum(ones, axis=axis) - 1, "int32")


def not_wrapped(node: Node, target: Node) -> None:
    """Refuse a rewrite of a layer inside a wrapper: no built-in form holds it."""
    if target is not node:
        reason = f"a wrapped {target.type} (no built-in form)"
        raise UnsupportedInBackend(NAME, node.type, reason)


def keras_args(node: Node, **overrides: Any) -> dict[str, Any]:
    """The node's arguments as Keras keyword arguments, plus ``name=node.name``.

    The schema uses Keras's own argument names, so every argument goes to Keras unchanged
    unless a builder overrides it (an activation name → its function, a wrapped node → its
    layer). An argument added to the schema later reaches Keras without a builder change.
    """
    return {**node.args, **overrides, "name": node.name}


def build_layer(node: Node) -> Any:
    """The Keras layer for ``node``; wrappers use it for the wrapped node. A layer the spec
    freezes (``trainable: false``) gets ``layer.trainable = False``: its weights become
    non-trainable, and a BatchNormalization then always uses its moving statistics."""
    layer = BUILDERS[node.type](node)
    if not node.trainable:
        layer.trainable = False
    return layer


def _keras_error(node: Node, exc: Exception) -> BackendError:
    """Keras's own message, prefixed with where in the spec it happened."""
    return BackendError(f"{node.loc}: layer '{node.name}' ({node.type}): Keras failed: {exc}")


@dataclass
class _Assembly:
    """The layers built so far and the symbolic tensors each node produced."""

    graph: Graph
    layers: dict[str, Any] = field(default_factory=dict)
    tensors: dict[str, list[Any]] = field(default_factory=dict)
    placeholders: list[Any] = field(default_factory=list)
    unsupported: dict[str, str] = field(default_factory=dict)
    shared: dict[str, str] = field(default_factory=dict)  # share node → the layer it calls again

    def add(self, node: Node) -> None:
        if node.shares:
            self._share(node, node.shares)
            return
        try:
            layer = build_layer(node)
        except UnsupportedInBackend as exc:
            self.unsupported[node.name] = exc.reason
            self.tensors[node.name] = self._stand_ins(node)
            return
        except Exception as exc:
            raise _keras_error(node, exc) from exc
        self.layers[node.name] = layer
        self._link(node, layer)
        self.tensors[node.name] = self._connect(node, layer)

    def _share(self, node: Node, original: str) -> None:
        """Call the ``original``'s layer object again: Keras then holds (and counts) its
        variables once, and the share node has no layer, hence no tensors, of its own."""
        if original in self.unsupported:
            self.unsupported[node.name] = f"it shares '{original}', which is not built"
            self.tensors[node.name] = self._stand_ins(node)
            return
        self.shared[node.name] = original
        self.tensors[node.name] = self._connect(node, self.layers[original])

    def _link(self, node: Node, layer: Any) -> None:
        """Hand a layer the layers its arguments name (a tied Dense's Embedding): builders
        see only their own node. A link to a share node means the layer it calls."""
        for arg, target in node.links.items():
            layer.link(arg, self.layers[target.shares or target.name])
        if node.inner is not None and node.inner.links:  # e.g. TimeDistributed(tied Dense)
            self._link(node.inner, layer.layer)

    def _connect(self, node: Node, layer: Any) -> list[Any]:
        if not node.inputs:  # a model input: its InputLayer already holds its tensor
            return [layer.output]
        args = [t for ref in node.inputs for t in self.tensors[ref]]
        # Merge layers take a list of tensors; every other layer takes one tensor.
        x = args[0] if SCHEMAS[node.type].max_inputs == 1 else args
        try:
            out = layer(x)
        except Exception as exc:
            raise _keras_error(node, exc) from exc
        return list(out) if isinstance(out, list | tuple) else [out]

    def _stand_ins(self, node: Node) -> list[Any]:
        """Extra model inputs in place of an unbuilt layer's outputs, so that the layers
        after it are still built (and measurable) with the shapes the IR inferred."""
        made = [
            keras.Input(shape=shape, dtype=node.dtype, name=f"{node.name}__stand_in_{i}")
            for i, shape in enumerate(node.output_shapes)
        ]
        self.placeholders.extend(made)
        return made


# Python frames Keras's graph walk takes per layer on the longest path (one per node; two
# leave room for what it calls on the way).
FRAMES_PER_LAYER = 2
# Python 3.10 only: frames that fit the main thread's 8 MB C stack with a wide margin.
C_STACK_FRAMES = 20_000


@contextmanager
def recursion_room(layers: int) -> Iterator[None]:
    """Room on the Python stack for a functional model of ``layers`` layers, restored after.

    ``keras.Model(inputs, outputs)`` maps the graph with a recursive depth-first walk
    (``keras/src/ops/function.py::_build_map_helper``): one frame per layer on the longest
    path, so a chain of 1,000 layers or more exceeds Python's default limit of 1,000 frames.
    Since Python 3.11 Python-to-Python calls take no C stack, so raising the limit is safe
    (the spec's layer budget, ``translator.spec.blocks.MAX_LAYERS``, bounds it); on 3.10
    each frame also takes C stack, so the raise stops at ``C_STACK_FRAMES``.
    """
    before = sys.getrecursionlimit()
    wanted = before + FRAMES_PER_LAYER * layers
    if sys.version_info < (3, 11):
        wanted = min(wanted, C_STACK_FRAMES)
    sys.setrecursionlimit(max(before, wanted))
    try:
        yield
    finally:
        sys.setrecursionlimit(before)


def build(graph: Graph, seed: int = 0) -> Built:
    """Build the functional Keras model for ``graph`` with Keras's own, seeded initializers."""
    # Keras initializers without a seed draw theirs from Python's `random` when created, so
    # seeding it makes the weights deterministic. keras.utils.set_random_seed would also call
    # tf.random.set_seed, which clears TensorFlow's caches and doubles the cost of every build.
    random.seed(seed)
    assembly = _Assembly(graph)
    for node in graph.nodes:
        assembly.add(node)
    inputs = [assembly.tensors[name][0] for name in graph.inputs] + assembly.placeholders
    outputs = [t for name in graph.outputs for t in assembly.tensors[name]]
    with recursion_room(len(graph.nodes)):
        model = keras.Model(inputs=inputs, outputs=outputs, name=graph.name)
    extra = {"layers": assembly.layers, "shared": assembly.shared, "tensors": assembly.tensors}
    return Built(NAME, graph, model, dict(assembly.unsupported), extra)


def _size(variable: Any) -> int:
    return math.prod(int(d) for d in variable.shape)


def _counts(obj: Any) -> dict[str, int]:
    """Counts in the contract's shape from a Keras layer or model's own API."""
    total = int(obj.count_params())
    trainable = sum(_size(v) for v in obj.trainable_weights)
    return {"total": total, "trainable": trainable, "non_trainable": total - trainable}


# Keras classes whose variables Keras names by itself ("variable_17", counted across the
# process): their tensors are named by the attribute holding each instead (registered in the
# family modules: keras.applications' ConvNeXt LayerScale keeps its scale in ``gamma``).
NAMED_BY_ATTRIBUTE: dict[type, tuple[str, ...]] = {}


def named_variables(layer: Any) -> dict[str, Any]:
    """The layer's variables by IR tensor name: their path without the leading
    ``<layer name>/``, or the attribute holding each (``NAMED_BY_ATTRIBUTE``)."""
    attributes = NAMED_BY_ATTRIBUTE.get(type(layer))
    if attributes is not None:
        return {name: getattr(layer, name) for name in attributes}
    return {v.path.removeprefix(f"{layer.name}/"): v for v in layer.weights}


def _tensors(layer: Any) -> tuple[MeasuredTensor, ...]:
    """The layer's variables, named as the IR names them (``named_variables``)."""
    return tuple(
        MeasuredTensor(name, tuple(int(d) for d in v.shape), bool(v.trainable))
        for name, v in named_variables(layer).items()
    )


_NO_COUNTS = {"total": 0, "trainable": 0, "non_trainable": 0}


def _measured(built: Built, node: Node) -> tuple[tuple[MeasuredTensor, ...], dict] | None:
    """A node's tensors and counts; a share node has no layer (it calls its original's),
    so no tensors and zero counts; ``None`` for a node that was not built."""
    if node.name in built.extra["shared"]:
        return (), dict(_NO_COUNTS)
    layer = built.extra["layers"].get(node.name)
    return None if layer is None else (_tensors(layer), _counts(layer))


def measure(built: Built) -> Measurement:
    """Per IR node that was built, and for the whole model: tensors and counts as Keras has them."""
    layers = {
        node.name: found
        for node in built.graph.nodes
        if (found := _measured(built, node)) is not None
    }
    return Measurement(NAME, layers, _counts(built.model))


def run(built: Built, inputs: dict[str, Any]) -> list[Any]:
    """One inference pass (dropout off, BatchNormalization on its moving statistics)."""
    graph = built.graph
    if built.unsupported:
        reasons = "; ".join(f"'{name}': {why}" for name, why in built.unsupported.items())
        raise BackendError(f"{graph.file}: the Keras model cannot run; not built: {reasons}")
    missing = [name for name in graph.inputs if name not in inputs]
    if missing:
        raise BackendError(f"{graph.file}: no array given for input(s) {', '.join(missing)}")
    feed = [keras.ops.convert_to_tensor(inputs[n], graph.node(n).dtype) for n in graph.inputs]
    out = built.model(feed, training=False)
    # Keras returns a bare tensor for a one-output model, even one built with outputs=[t].
    out = list(out) if isinstance(out, list | tuple) else [out]
    return [keras.ops.convert_to_numpy(t) for t in out]
