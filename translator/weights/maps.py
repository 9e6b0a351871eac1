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
rest) and ``zeros`` (PyTorch bookkeeping, not carried). This module holds the machinery;
each layer type's map lives in its family module under ``translator.ops``, registered with
``@weight_map("Type")``. Nothing here imports a framework.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from translator.ir import FRAMEWORKS, Node
from translator.registry import Registry
from translator.weights.transforms import SAME, Combine, Map, One, Shape


@dataclass(frozen=True)
class Entry:
    """One framework tensor (``target``, relative to its layer) made from canonical
    ``sources`` (role paths relative to the layer) by ``combine``."""

    target: str
    sources: tuple[str, ...]
    combine: Combine = field(default_factory=One)

    def describe(self) -> str:
        """``target = transform(sources)``, as ``port`` prints it."""
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


def present(node: Node, tables: dict[str, tuple[Entry, ...]]) -> dict[str, tuple[Entry, ...]]:
    """Each framework's entries whose target the IR has (``use_bias``, ``center`` and
    ``scale`` decide which tensors exist; the IR is the one place that says so)."""
    return {fw: tuple(x for x in tables[fw] if x.target in ir_names(node, fw)) for fw in FRAMEWORKS}


def simple_map(node: Node, tables: dict[str, tuple[Entry, ...]]) -> LayerMap:
    """A map whose canonical tensors are exactly Keras's (every layer but the recurrent)."""
    canonical = {w.role: w.shape for w in node.weights["keras"]}
    return LayerMap(canonical, present(node, tables))


def renamed(node: Node, tables: dict[str, tuple[tuple[str, str], ...]]) -> LayerMap:
    """A map whose tensors are Keras's, copied as they are under each framework's name:
    ``{framework: ((target, canonical role), ...)}``."""
    return simple_map(
        node, {fw: tuple(e(target, role) for target, role in pairs) for fw, pairs in tables.items()}
    )
