"""Layouts: the spec's (logical) layout of a tensor and PyTorch's natural (physical) one.

Keras takes the spec's layout. PyTorch and ONNX take PyTorch's natural one
(``natural_axes``): in a channels-last spec with 2-D spatial layers (convolutions, pooling,
padding, cropping, upsampling), tensors with two axes or more before the channels put the
channels before the two image axes ((H, W, C) → (C, H, W), (T, H, W, C) → (T, C, H, W)); with
3-D spatial layers, volumes likewise ((D, H, W, C) → (C, D, H, W)); with 1-D convolutions
(and no 2-D or 3-D layer), sequences likewise ((T, C) → (C, T)), as ``nn.Conv1d`` and ONNX
Conv take them. A spec with several takes the highest rank (a tensor of lower rank then keeps
its layout). 1-D pooling, padding or upsampling alone change nothing: a
GlobalAveragePooling1D over an LSTM's output reads the sequence as the LSTM gives it,
(batch, time, features), as PyTorch's recurrent layers and attention take it; in a 1-D
convolution spec the layout pass converts a sequence only where it meets such a layer.

Which layer types have spatial axes is a fact of each type's schema entry (``image_axes``).
Also here: names for tensors the exporters add, and TensorFlow's "same" padding as explicit
pads. No framework is imported; numpy only inside the functions that move arrays.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from translator.errors import UnsupportedInBackend
from translator.ir.graph import Graph, Node, Shape
from translator.spec.schema import SCHEMAS

# The families whose 1-D layers make a spec's sequences channels first: the convolutions.
CONVOLUTIONS = frozenset({"conv", "conv_transpose", "depthwise"})


def spatial_rank(graph: Graph) -> int:
    """How many spatial axes a channels-last spec's tensors have in PyTorch's eyes: 3 with a
    3-D spatial layer written channels last (wrapped ones included), else 2 with a 2-D one,
    else 1 with a 1-D convolution, else 0 (as for any channels-first spec, or layers written
    channels first: already in PyTorch's layout)."""
    if graph.data_format != "channels_last":
        return 0
    nodes = [*graph.nodes, *(n.wrapped for n in graph.nodes if n.inner)]
    found = [
        _spatial_axes(n.type)
        for n in nodes
        if n.type in SCHEMAS and n.args.get("data_format", "channels_last") == "channels_last"
    ]
    return max(found, default=0)


def _spatial_axes(type_: str) -> int:
    """A layer type's spatial axes as they count for ``spatial_rank``: 1-D ones only for
    convolutions."""
    schema = SCHEMAS[type_]
    return 0 if schema.image_axes == 1 and schema.family not in CONVOLUTIONS else schema.image_axes


def natural_axes(graph: Graph, shape: Shape) -> tuple[int, ...] | None:
    """The axes (batch axis 0 included) of a spec-layout tensor of per-example ``shape`` in
    PyTorch's natural order, ``None`` when the two layouts are the same."""
    rank, spatial = len(shape), spatial_rank(graph)
    if not spatial or rank < spatial + 1:
        return None
    lead = rank - spatial  # the axes before the image axes, batch axis not counted
    return (0, *range(1, lead), rank, *range(lead, rank))


def inverse(axes: tuple[int, ...]) -> tuple[int, ...]:
    """The permutation that undoes ``axes``."""
    return tuple(sorted(range(len(axes)), key=axes.__getitem__))


@dataclass(frozen=True)
class Tensor:
    """A model input or output as exported: its node, its index among the node's outputs
    (``many``: the node has several), per-example spec shape, dtype, and ``axes`` from the
    spec's layout to PyTorch's natural one (``None``: the same)."""

    name: str
    index: int
    many: bool
    shape: Shape
    dtype: str
    axes: tuple[int, ...] | None

    @property
    def inverse(self) -> tuple[int, ...] | None:
        return None if self.axes is None else inverse(self.axes)

    def natural_shape(self) -> tuple[int | None, ...]:
        full = (None, *self.shape)
        return full if self.axes is None else tuple(full[a] for a in self.axes)

    def describe(self, natural: bool = True) -> str:
        """``(batch, 1, 28, 28) float32``; free sizes are ``None``."""
        dims = self.natural_shape() if natural else (None, *self.shape)
        text = ", ".join(["batch", *(str(d) for d in dims[1:])])
        return f"({text}) {self.dtype}"


@dataclass(frozen=True)
class Layouts:
    """Every input and output tensor of a graph, in ``forward`` order."""

    inputs: list[Tensor]
    outputs: list[Tensor]


def tensor_layouts(graph: Graph) -> Layouts:
    """The graph's inputs and output tensors with their natural-layout permutations."""
    inputs = []
    for name in graph.inputs:
        node = graph.node(name)
        shape = node.output_shape
        inputs.append(Tensor(name, 0, False, shape, node.dtype, natural_axes(graph, shape)))
    outputs = []
    for name in graph.outputs:
        node = graph.node(name)
        many = len(node.output_shapes) > 1
        for i, shape in enumerate(node.output_shapes):
            axes = natural_axes(graph, shape)
            outputs.append(Tensor(name, i, many, shape, node.dtype, axes))
    return Layouts(inputs, outputs)


def to_layout(arrays: list[Any], tensors: list[Tensor], natural: bool, back: bool = False) -> list:
    """Spec-layout arrays → ``natural`` (PyTorch's) layout, or back with ``back``."""
    import numpy as np

    if not natural:
        return list(arrays)
    out = []
    for array, t in zip(arrays, tensors, strict=True):
        axes = t.inverse if back else t.axes
        out.append(array if axes is None else np.ascontiguousarray(np.transpose(array, axes)))
    return out


def fresh_name(graph: Graph, base: str) -> str:
    """``base``, with ``_`` appended while a spec layer has that name: the name of a layer an
    exporter adds (a Permute around a convolution, say)."""
    names = {n.name for n in graph.nodes}
    while base in names:
        base += "_"
    return base


def stack_name(graph: Graph, name: str, index: int) -> str:
    """The exported layer holding layer ``index`` > 0 of recurrent stack ``name`` where a
    framework has no stacks (Keras)."""
    return fresh_name(graph, f"{name}_layer_{index}")


def same_pairs(
    sizes: Sequence[int | None],
    kernel: Sequence[int],
    strides: Sequence[int],
    dilation: Sequence[int],
) -> tuple[tuple[int, int], ...] | None:
    """TensorFlow's "same" zeros (before, after) per spatial axis of ``sizes``, the odd one
    at the end; None when a size is unknown and the stride is not 1 (with stride 1 the
    padding is ``dilation * (kernel - 1)`` whatever the size)."""
    pairs = []
    for n, k, s, d in zip(sizes, kernel, strides, dilation, strict=True):
        if n is None and s > 1:
            return None
        total = (k - 1) * d if n is None else max((-(-n // s) - 1) * s + (k - 1) * d + 1 - n, 0)
        pairs.append((total // 2, total - total // 2))
    return tuple(pairs)


def same_pads(node: Node, framework: str) -> tuple[tuple[int, int], ...]:
    """TensorFlow's "same" zeros (before, after) per spatial axis of a convolution ``node``
    (known sizes), the odd one at the end."""
    a = node.args
    shape = node.input_shape
    sizes = shape[1:] if a["data_format"] == "channels_first" else shape[:-1]
    pairs = same_pairs(sizes, a["kernel_size"], a["strides"], a["dilation_rate"])
    if pairs is None:
        raise UnsupportedInBackend(framework, node.type, "unequal strides need known sizes")
    return pairs
