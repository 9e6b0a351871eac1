"""Measuring what does not fit: each distinct layer once, its measurement counted for every
layer alike (``compare --materialize distinct``).

A layer's tensors follow from its type, its arguments, the shapes and element types it reads
and, for a wrapper, the layer it wraps. ``layer_key`` is exactly that (plus the tensors the
IR predicts, names included, so that one measurement can be checked against each layer it is
counted for); ``distinct_groups`` groups a graph's nodes by it. ``mini_graph`` is the graph a
backend builds for one group: fresh inputs of the layer's shapes feeding that one layer. A
layer that uses another's tensors (``share:``, a tied Dense) is its own group, built with the
layers it uses, so the framework measures exactly what it holds in the whole model.

Nothing here imports a framework: the command measures the mini graphs with the backends'
own ``build`` and ``measure``.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

from translator.errors import InternalError
from translator.ir import FRAMEWORKS, INPUT, Graph, Node, memory
from translator.ir.placement import place

# The automatic choice: build whole models while every framework's float32 weights together
# take less than this share of the memory available; above it, measure distinct layers.
FULL_SHARE = 0.25


def _frozen(value: Any) -> Any:
    """``value`` as a hashable, comparable key part (a wrapped node: its own key)."""
    if isinstance(value, Node):
        return _own_key(value)
    if isinstance(value, dict):
        return tuple(sorted((k, _frozen(v)) for k, v in value.items()))
    if isinstance(value, list | tuple):
        return tuple(_frozen(v) for v in value)
    return value


def _own_key(node: Node) -> tuple[Any, ...]:
    """What determines a node's tensors, names aside: type, arguments, shapes, tensors."""
    tensors = tuple(
        (fw, tuple((w.name, w.shape, w.role, w.trainable, w.buffer) for w in node.weights[fw]))
        for fw in sorted(node.weights)
    )
    return (
        node.type,
        _frozen(node.args),
        node.input_shapes,
        node.output_shapes,
        node.dtype,
        tensors,
    )


def uses_others(node: Node) -> bool:
    """Whether ``node`` (or a layer it wraps) uses another layer's tensors."""
    return bool(node.shares or node.links) or (node.inner is not None and uses_others(node.inner))


def layer_key(node: Node, input_dtypes: tuple[str, ...]) -> tuple[Any, ...]:
    """The grouping key: nodes with equal keys hold the same tensors. A layer that uses
    another's tensors is keyed by its own name too: it is measured with that other layer."""
    key = (*_own_key(node), input_dtypes)
    return (*key, node.name) if uses_others(node) else key


@dataclass(frozen=True)
class Group:
    """Nodes with one key. ``built`` is what a backend builds for them: the first node, after
    the layers it uses (if any), each with the element types of the tensors it reads."""

    nodes: tuple[Node, ...]
    built: tuple[tuple[Node, tuple[str, ...]], ...]

    @property
    def first(self) -> Node:
        return self.nodes[0]


def input_dtypes(by_name: dict[str, Node], node: Node) -> tuple[str, ...]:
    """The element type of each tensor ``node`` reads, in order."""
    return tuple(by_name[ref].dtype for ref in node.inputs for _ in by_name[ref].output_shapes)


def distinct_groups(graph: Graph) -> list[Group]:
    """The graph's nodes grouped by ``layer_key``, in order of first appearance."""
    by_name = {n.name: n for n in graph.nodes}
    order = {name: i for i, name in enumerate(by_name)}
    groups: dict[tuple[Any, ...], list[Node]] = {}
    for node in graph.nodes:
        groups.setdefault(layer_key(node, input_dtypes(by_name, node)), []).append(node)
    return [
        Group(
            tuple(nodes),
            tuple((n, input_dtypes(by_name, n)) for n in _closure(by_name, order, nodes[0])),
        )
        for nodes in groups.values()
    ]


def _used(node: Node) -> list[str]:
    """The names of the layers whose tensors ``node`` (or a layer it wraps) uses."""
    names = [node.shares] if node.shares else []
    names += [target.shares or target.name for target in node.links.values()]
    return names + (_used(node.inner) if node.inner is not None else [])


def _closure(by_name: dict[str, Node], order: dict[str, int], node: Node) -> list[Node]:
    """``node`` and every layer it uses, directly or not, in the graph's order."""
    wanted, todo = {node.name}, [node.name]
    while todo:
        for name in _used(by_name[todo.pop()]):
            if name not in wanted:
                wanted.add(name)
                todo.append(name)
    return [by_name[name] for name in sorted(wanted, key=order.__getitem__)]


def _fed(node: Node, dtypes: tuple[str, ...]) -> tuple[list[Node], Node]:
    """Fresh model inputs, one per tensor ``node`` reads, and ``node`` reading them."""
    if len(dtypes) != len(node.input_shapes):
        raise InternalError(
            f"layer '{node.name}': {len(node.input_shapes)} input shapes for {len(dtypes)} inputs"
        )
    inputs = []
    for i, (shape, dtype) in enumerate(zip(node.input_shapes, dtypes, strict=True)):
        name = f"{node.name}__input_{i}"
        args = {"shape": shape, "dtype": dtype}
        fresh = Node(name, INPUT, args, (), node.loc, output_shapes=(shape,), dtype=dtype)
        fresh.weights = {fw: () for fw in FRAMEWORKS}  # a model input holds no tensors
        inputs.append(fresh)
    return inputs, replace(node, inputs=tuple(i.name for i in inputs))


def mini_graph(graph: Graph, group: Group) -> Graph:
    """What a backend builds for ``group``: its first node (and the layers it uses), each fed
    by fresh inputs of its own input shapes; a model input stands alone."""
    node = group.first
    name = f"{graph.name}__{node.name}"
    if node.type == INPUT:
        alone = replace(node)
        return place(
            Graph(name, graph.file, "", graph.data_format, [alone], [alone.name], [node.name])
        )
    inputs: list[Node] = []
    layers: list[Node] = []
    for member, dtypes in group.built:
        fresh, fed = _fed(member, dtypes)
        inputs += fresh
        layers.append(fed)
    names = [i.name for i in inputs]
    outputs = [n.name for n in layers]
    return place(Graph(name, graph.file, "", graph.data_format, inputs + layers, names, outputs))


def weight_bytes(graph: Graph, frameworks: tuple[str, ...]) -> int:
    """The float32 bytes of every tensor the frameworks would create for the whole model."""
    return sum(memory.weight_bytes(graph, fw) for fw in frameworks)


@dataclass(frozen=True)
class Materialized:
    """How a compare measured: ``full`` models, or ``distinct`` layers. ``why`` says why an
    automatic choice fell on ``distinct`` (empty when asked for). ``blocks`` summarizes the
    top-level repeated blocks: (name, repeats, layers, distinct layers)."""

    mode: str
    why: str = ""
    distinct: int = 0
    layers: int = 0
    blocks: tuple[tuple[str, int, int, int], ...] = ()

    def as_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"mode": self.mode, "distinct": self.distinct, "layers": self.layers}
        if self.why:
            out["why"] = self.why
        return out

    def summary(self) -> str:
        """One line: what was measured once and counted for how many layers."""
        how = self.why or f"--materialize {self.mode}"
        text = f"measured once per distinct layer ({how}): {self.distinct:,} distinct of"
        text += f" {self.layers:,} layers"
        for name, instances, layers, distinct in self.blocks:
            text += f"; block '{name}': {instances:,} × {layers // instances:,} layers,"
            text += f" {distinct:,} distinct"
        return text


def choose(
    graph: Graph, frameworks: tuple[str, ...], asked: str | None, max_memory: int | None = None
) -> tuple[str, str]:
    """The mode asked for, or the automatic one, with why it is ``distinct``: whole models
    whose estimate passes ``max_memory`` (bytes, ``--max-memory``), or whose weights take
    more than ``FULL_SHARE`` of the memory available."""
    if asked is not None:
        return asked, ""
    if max_memory is not None:
        whole = memory.compare_estimate(graph, frameworks).total
        if whole > max_memory:
            allowed = memory.readable(max_memory)
            return (
                "distinct",
                f"whole models need about {memory.readable(whole)} > --max-memory {allowed}",
            )
    need, available = weight_bytes(graph, frameworks), memory.available()
    if available is None or need < FULL_SHARE * available:
        return "full", ""
    where = f"{len(frameworks)} frameworks" if len(frameworks) > 1 else frameworks[0]
    return "distinct", (
        f"{need / 2**30:.1f} GB of float32 weights in {where} > {FULL_SHARE:.0%} of available memory"
    )


def _repeats(name: str, nodes: list[Node]) -> int:
    """How many times the top-level block instance ``name`` repeats its block (``name_1``,
    ``name_2``, ... hold every layer), or 1."""
    inner = {n.block[1] if len(n.block) > 1 else "" for n in nodes}
    return len(inner) if inner == {f"{name}_{i}" for i in range(1, len(inner) + 1)} else 1


def materialized(graph: Graph, groups: list[Group], why: str) -> Materialized:
    """The ``distinct`` summary of ``groups`` (model inputs are not counted as layers), with
    each repeated block's layers and how many of them are distinct."""
    layer_groups = [g for g in groups if g.first.type != INPUT]
    of_group = {n.name: i for i, g in enumerate(layer_groups) for n in g.nodes}
    blocks: dict[str, list[Node]] = {}
    for node in graph.layers:
        if node.block:
            blocks.setdefault(node.block[0], []).append(node)
    summary = tuple(
        (name, repeats, len(nodes), len({of_group[n.name] for n in nodes}))
        for name, nodes in blocks.items()
        if (repeats := _repeats(name, nodes)) > 1
    )
    return Materialized("distinct", why, len(layer_groups), len(graph.layers), summary)
