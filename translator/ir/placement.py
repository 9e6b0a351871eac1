"""The layout pass: where each tensor lives in PyTorch and ONNX, and where it must move.

Keras computes every layer in the spec's (logical) layout. PyTorch and ONNX convolve
channels-first data, so in a channels-last image spec (``translator.ir.layout.spatial_rank``)
the pass gives each tensor a physical layout for them:

- ``natural``: PyTorch's natural order (``layout.natural_axes``: (H, W, C) → (C, H, W));
- ``spec``: the spec's own order (sequences, vectors, anything no image layer touched);
- ``flat``: a Flatten of a natural tensor, its features in channels-first order; only the
  Dense layers reading it accept it, their weight rows permuted to match (the classic case
  of moving a layout into the weights instead of transposing data).

Each layer type has a layout rule (``@layout_rule``, registered in its family module; the
default follows the schema: image layers run ``natural``, everything else ``spec``). A rule
says the layout the layer runs in (its inputs are converted to it) and the layout of its
output, and may rewrite the arguments that name axes for the physical layout
(``data_format: channels_first`` for an image layer, a normalization's or concatenation's
``axis``). The backends read ``node.placement``: ``args`` for the arguments to build with,
``converts`` for the permutation (if any) each input needs first. A conversion is inserted
only where a layer's result depends on the axis order; a channels-first spec, or one with no
image layer, has none. No framework is imported.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from translator.errors import InternalError
from translator.ir.graph import INPUT, NATURAL, SPEC, Graph, Layout, Node, Placement, Shape
from translator.ir.layout import inverse, natural_axes, spatial_rank
from translator.registry import Registry
from translator.spec.schema import SCHEMAS

Axes = tuple[int, ...]


@dataclass(frozen=True)
class Step:
    """What a layout rule decides: the layout a layer runs in, its output's and its
    rewritten arguments."""

    runs: Layout = SPEC
    output: Layout = SPEC
    overrides: dict[str, Any] = field(default_factory=dict)


# A rule sees the node, its inputs' physical layouts and the graph.
LayoutRule = Callable[[Node, tuple[Layout, ...], Graph], Step]
LAYOUTS: Registry[LayoutRule] = Registry("layout rule")


def layout_rule(*types: str) -> Callable[[LayoutRule], LayoutRule]:
    """Register the layout rule of one or more layer types (a type registered twice raises)."""
    return LAYOUTS.register(*types)


def settle(graph: Graph, layout: Layout, shape: Shape) -> Layout:
    """``layout`` for a tensor of ``shape``: natural where natural is the spec's order (a
    vector, a sequence) is simply the spec's."""
    if layout.kind == "natural" and natural_axes(graph, shape) is None:
        return SPEC
    return layout


def in_spec(node: Node, inputs: tuple[Layout, ...], graph: Graph) -> Step:
    """The layer runs in the spec's layout: its inputs are converted to it."""
    return Step()


# Activations whose result depends on the axis order (they normalize over the last axis).
AXIS_ACTIVATIONS = frozenset({"softmax", "log_softmax"})


def axis_free(node: Node) -> bool:
    """Whether the layer's ``activation`` (if any) works element by element."""
    return node.args.get("activation") not in AXIS_ACTIVATIONS


def on_images(node: Node, inputs: tuple[Layout, ...], graph: Graph) -> Step:
    """An image layer: runs channels first (``data_format: channels_first``), so the
    framework's own convolution, pooling or padding computes it; its output stays natural.
    With a softmax activation (over the spec's last axis) it keeps the spec's layout. A 1-D
    layer with no ``data_format`` (Cropping1D, UpSampling1D) is channels last, as Keras's
    always are, and is told ``channels_first`` all the same."""
    if not axis_free(node) or node.args.get("data_format", "channels_last") != "channels_last":
        return Step()  # a layer written channels first takes the spec's order as it is
    if natural_axes(graph, node.input_shape) != channels_moved(len(node.input_shape)):
        return Step()  # a 2-D layer in a spec of volumes: its images keep the spec's order
    return Step(NATURAL, NATURAL, {"data_format": "channels_first"})


def channels_moved(rank: int) -> Axes:
    """The permutation (batch axis 0) moving the last of ``rank`` axes to the first:
    (H, W, C) → (C, H, W) for rank 3."""
    return (0, rank, *range(1, rank))


def elementwise(node: Node, inputs: tuple[Layout, ...], graph: Graph) -> Step:
    """A layer computing element by element (an activation, a merge, Dropout): runs in its
    inputs' layout; inputs of one rank in different layouts meet in the natural one. A
    ``noise_shape`` (Dropout's mask, one size per axis) is reordered for a natural layout;
    with one, a flat input is taken in the spec's order."""
    if not axis_free(node):
        return Step()
    kinds = {layout.kind for layout in inputs}
    if len(set(inputs)) == 1:
        step = Step(inputs[0], inputs[0])
    elif kinds == {"natural", "spec"} and len({len(s) for s in node.input_shapes}) == 1:
        step = Step(NATURAL, NATURAL)
    else:
        return Step()
    noise = node.args.get("noise_shape")
    if noise is None or step.runs.kind == "spec":
        return step
    axes = natural_axes(graph, node.input_shape)
    if step.runs.kind != "natural" or axes is None:
        return Step()
    return Step(NATURAL, NATURAL, {"noise_shape": tuple(noise[i] for i in axes)})


def physical_axis(graph: Graph, node: Node, axis: int) -> int:
    """The position in the natural layout (batch axis 0) of the spec's ``axis`` of the
    node's (first) input, as a positive index."""
    rank = len(node.input_shape) + 1
    index = axis if axis > 0 else rank + axis
    axes = natural_axes(graph, node.input_shape)
    return index if axes is None else axes.index(index)


def along_axis(node: Node, inputs: tuple[Layout, ...], graph: Graph) -> Step:
    """A layer working along one ``axis`` (BatchNormalization, Concatenate, Softmax): runs
    where its inputs are, the axis renumbered for that layout."""
    step = elementwise(node, inputs, graph)
    axis = node.args["axis"]
    if step.runs.kind != "natural":
        return step
    if not isinstance(axis, int):
        return Step()  # several axes (Softmax over (H, W)): in the spec's order
    return Step(NATURAL, NATURAL, {"axis": physical_axis(graph, node, axis)})


def _reads_flat(node: Node, graph: Graph, shared: set[str]) -> bool:
    """Whether ``node`` can take a flat input: a Dense of its own (not shared, not tied, not
    applied elsewhere), or an element-wise layer (Dropout) whose readers all can."""
    if node.shares or node.name in shared:
        return False
    if node.type == "Dense":
        return node.args["tie"] is None
    through = rule_of(node) is elementwise and node.args.get("noise_shape") is None
    through = through and node.name not in graph.outputs
    return through and _all_read_flat(node, graph, shared)


def _all_read_flat(node: Node, graph: Graph, shared: set[str]) -> bool:
    return bool(node.readers) and all(_reads_flat(r, graph, shared) for r in node.readers)


def flattening(node: Node, inputs: tuple[Layout, ...], graph: Graph) -> Step:
    """Flatten of a natural tensor whose readers all end in Dense layers: flattens it as it
    is (features channels first) and leaves the order to the Dense's weights (``flat``);
    otherwise it flattens in the spec's layout."""
    shared = {n.shares for n in graph.nodes if n.shares}
    natural = inputs[0].kind == "natural" and node.name not in graph.outputs
    if natural and _all_read_flat(node, graph, shared):
        axes = natural_axes(graph, node.input_shape) or ()
        order = tuple(a - 1 for a in axes[1:])
        return Step(NATURAL, Layout("flat", node.input_shape, order))
    return Step()


def dense(node: Node, inputs: tuple[Layout, ...], graph: Graph) -> Step:
    """A Dense reads a flat input as it comes (its weight rows are permuted to match); any
    other input in the spec's layout, the last axis being its features."""
    return Step(inputs[0], SPEC) if inputs[0].kind == "flat" else Step()


def rule_of(node: Node) -> LayoutRule:
    """The node's layout rule: its registered one, else the schema's default (image layers
    natural, everything else the spec's)."""
    if node.type in LAYOUTS:
        return LAYOUTS[node.type]
    schema = SCHEMAS.get(node.type)
    return on_images if schema is not None and schema.image_axes else in_spec


def conversion(graph: Graph, source: Layout, target: Layout, shape: Shape) -> Axes | None:
    """The permutation taking a tensor of spec ``shape`` from ``source`` to ``target``."""
    if source == target:
        return None
    axes = natural_axes(graph, shape)
    if source.kind == "flat" or target.kind == "flat" or axes is None:
        raise InternalError(f"no conversion from {source} to {target} for {shape}")
    return axes if target.kind == "natural" else inverse(axes)


def _place(node: Node, produced: dict[str, tuple[Layout, ...]], graph: Graph) -> Placement:
    if node.type == INPUT:
        return Placement(output=settle(graph, NATURAL, node.output_shape))
    # One layout per input tensor (a Bidirectional without merge gives two).
    inputs = tuple(layout for name in node.inputs for layout in produced[name])
    step = rule_of(node)(node, inputs, graph)
    runs = [settle(graph, step.runs, shape) for shape in node.input_shapes]
    converts = tuple(
        conversion(graph, have, want, shape)
        for have, want, shape in zip(inputs, runs, node.input_shapes, strict=True)
    )
    output = settle(graph, step.output, node.output_shape)
    return Placement(step.runs, output, tuple(sorted(step.overrides.items())), converts)


def place(graph: Graph) -> Graph:
    """Set every node's ``placement`` (wrapped layers' too); returns the graph."""
    produced: dict[str, tuple[Layout, ...]] = {}
    images = spatial_rank(graph) > 0
    for node in graph.nodes:
        if images:
            node.placement = _place(node, produced, graph)
        else:
            node.placement = Placement(converts=(None,) * len(node.input_shapes))
        produced[node.name] = (node.placement.output,) * len(node.output_shapes)
        _place_wrapped(node)
    return graph


def _place_wrapped(node: Node) -> None:
    """A wrapper running natural runs its wrapped layer natural too (the wrapper's own rule
    decides); otherwise the wrapped layer keeps the spec's layout."""
    inner = node.inner
    if inner is None:
        return
    if node.placement.natural:
        inner.placement = Placement(NATURAL, NATURAL, (("data_format", "channels_first"),))
    else:
        inner.placement = Placement()
    _place_wrapped(inner)


def output_converts(graph: Graph) -> list[Axes | None]:
    """Per model output tensor (``graph.outputs`` order, one per output of each node), the
    permutation from its physical layout to the framework's natural one, where models give
    their outputs."""
    out = []
    for name in graph.outputs:
        node = graph.node(name)
        for shape in node.output_shapes:
            want = settle(graph, NATURAL, shape) if spatial_rank(graph) else SPEC
            out.append(conversion(graph, node.placement.output, want, shape))
    return out


def in_spec_order(graph: Graph, node: Node, arrays: list[Any]) -> list[Any]:
    """The node's output arrays (batch first) from its physical layout back to the spec's:
    what a layer-by-layer comparison with Keras reads."""
    import numpy as np

    layout = node.placement.output
    out = []
    for array, shape in zip(arrays, node.output_shapes, strict=True):
        if layout.kind == "natural":
            array = np.transpose(array, inverse(natural_axes(graph, shape) or ()))
        elif layout.kind == "flat":
            moved = tuple(int(layout.shape[i] or 0) for i in layout.order)  # known: flattened
            back = tuple(a + 1 for a in inverse(layout.order))
            grid = np.reshape(array, (len(array), *moved)).transpose(0, *back)
            array = grid.reshape(array.shape)
        out.append(array)
    return out
