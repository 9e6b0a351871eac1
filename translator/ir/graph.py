"""The intermediate representation: the single source of truth about a network.

A ``Graph`` is the spec's layers in topological order with every default filled in and every
shape inferred. Each ``Node`` also knows, per framework, the exact weight tensors that
framework creates for it (``WeightSpec``: name, shape, role, trainable, parameter or buffer),
so counting needs no framework and allocates no weights. Backends build from this IR, and
their measurements are checked against it tensor by tensor.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, replace
from typing import Any

from translator.errors import InternalError, Location, ShapeError

Shape = tuple[int | None, ...]  # per-example shape; the batch dimension is implicit

FRAMEWORKS = ("keras", "torch", "onnx")
# The type of the nodes the spec's top-level `inputs:` become: model inputs, not layers.
INPUT = "Input"

# Roles name what a tensor is for, so tensors correspond across frameworks by role.
ROLES = (
    "kernel",
    "recurrent_kernel",
    "bias",
    "input_bias",
    "recurrent_bias",
    "embeddings",
    "gamma",
    "beta",
    "moving_mean",
    "moving_variance",
    "num_batches_tracked",
    "mean",  # a stored statistic (Normalization), not a moving one
    "variance",
    "count",  # Keras Normalization's sample count: bookkeeping
)


@dataclass(frozen=True)
class WeightSpec:
    """One tensor a framework creates for a layer.

    ``name`` is the framework's own name relative to the layer (Keras: the variable path
    after the layer name; PyTorch: the ``named_parameters``/``named_buffers`` key; ONNX: the
    initializer name after ``<layer>.``). ``buffer`` marks PyTorch buffers, which PyTorch
    does not count as parameters.
    """

    name: str
    shape: tuple[int, ...]
    role: str
    trainable: bool = True
    buffer: bool = False

    @property
    def size(self) -> int:
        return math.prod(self.shape)

    @property
    def kind(self) -> str:
        return "buffer" if self.buffer else "parameter"


@dataclass(frozen=True)
class Layout:
    """A tensor's physical layout: ``spec``, ``natural`` or ``flat`` (then ``shape`` is the
    spec-layout shape that was flattened after its axes were permuted by ``order``)."""

    kind: str = "spec"
    shape: Shape = ()
    order: tuple[int, ...] = ()


SPEC = Layout()
NATURAL = Layout("natural")


@dataclass(frozen=True)
class Placement:
    """How a layer runs in PyTorch and ONNX: the layout of its inputs (``runs``) and of its
    output, its arguments rewritten for that layout (``overrides``), and per input the
    permutation (batch axis included) taking it from its producer's layout to ``runs``."""

    runs: Layout = SPEC
    output: Layout = SPEC
    overrides: tuple[tuple[str, Any], ...] = ()
    converts: tuple[tuple[int, ...] | None, ...] = ()

    def args(self, node: Node) -> dict[str, Any]:
        """``node``'s arguments as the backends build it: the spec's, with the overrides."""
        return {**node.args, **dict(self.overrides)}

    @property
    def natural(self) -> bool:
        return self.runs.kind == "natural"


def counts(framework: str, tensors: tuple[WeightSpec, ...] | list[WeightSpec]) -> dict[str, int]:
    """Per the contract: Keras total includes non-trainable weights; PyTorch keeps buffers apart."""
    params = [t for t in tensors if not t.buffer]
    total = sum(t.size for t in params)
    if framework == "onnx":
        return {"total": total}
    trainable = sum(t.size for t in params if t.trainable)
    out = {"total": total, "trainable": trainable, "non_trainable": total - trainable}
    if framework == "torch":
        out["buffers"] = sum(t.size for t in tensors if t.buffer)
    return out


def freeze(weights: dict[str, tuple[WeightSpec, ...]]) -> dict[str, tuple[WeightSpec, ...]]:
    """A frozen layer's tensors: non-trainable in Keras and PyTorch (buffers stay buffers).
    ONNX has no notion of trainable, so its initializers are left as they are."""
    return {
        fw: tensors if fw == "onnx" else tuple(replace(t, trainable=False) for t in tensors)
        for fw, tensors in weights.items()
    }


def add_counts(framework: str, parts: list[dict[str, int]]) -> dict[str, int]:
    """Sum count dicts of one framework (an empty list gives zeros)."""
    keys = counts(framework, []).keys()
    return {k: sum(p[k] for p in parts) for k in keys}


@dataclass
class Node:
    """One layer of the network, normalized and shape-inferred.

    ``args`` holds every schema argument with defaults filled in; a wrapper's ``args['layer']``
    is the wrapped ``Node``. ``output_shapes`` has one entry per output tensor (two for a
    ``Bidirectional`` with ``merge_mode: null``).
    """

    name: str
    type: str
    args: dict[str, Any]
    inputs: tuple[str, ...]
    loc: Location
    input_shapes: tuple[Shape, ...] = ()
    output_shapes: tuple[Shape, ...] = ()
    weights: dict[str, tuple[WeightSpec, ...]] = field(default_factory=dict)
    dtype: str = "float32"
    block: tuple[str, ...] = ()  # the block instances this layer was expanded from, outermost first
    shares: str | None = None  # applies the layer of this name again, with its weights
    trainable: bool = True  # the spec's ``trainable:``; false freezes every weight of the layer
    # The layers that read this one's output (set once the graph is loaded; not compared or
    # printed, so a node's equality and repr stay its own).
    readers: tuple[Node, ...] = field(default=(), repr=False, compare=False)
    links: dict[str, Node] = field(default_factory=dict)  # arguments naming other layers (tie)
    # Where the layer runs in PyTorch and ONNX (set by translator.ir.placement.place).
    placement: Placement = field(default_factory=Placement, repr=False, compare=False)

    @property
    def physical_args(self) -> dict[str, Any]:
        """The arguments PyTorch and ONNX build the layer with: the spec's, with the axes the
        layout pass renamed for the physical layout (``data_format``, ``axis``)."""
        return self.placement.args(self)

    @property
    def frozen(self) -> bool:
        """Whether the layer's weights do not train: ``trainable: false`` on it, or on the
        layer it wraps (a wrapper's weights are its wrapped layer's)."""
        return not self.trainable or (self.inner is not None and self.inner.frozen)

    def frozen_params(self, framework: str) -> bool:
        """Whether the layer is frozen and ``framework`` holds parameters of it to freeze (a
        layer without weights, or with buffers only, has nothing to mark)."""
        return self.frozen and any(not w.buffer for w in self.weights.get(framework, ()))

    @property
    def input_shape(self) -> Shape:
        return self.input_shapes[0]

    @property
    def output_shape(self) -> Shape:
        return self.output_shapes[0]

    @property
    def feeds(self) -> tuple[str, ...]:
        """The types of the layers that read this one's output."""
        return tuple(r.type for r in self.readers)

    @property
    def inner(self) -> Node | None:
        """The wrapped layer of a wrapper (``TimeDistributed``, ``Bidirectional``), else None."""
        inner = self.args.get("layer")
        return inner if isinstance(inner, Node) else None

    @property
    def wrapped(self) -> Node:
        """The wrapped layer of a wrapper node. The loader guarantees one; its absence is a
        translator bug, raised as ``InternalError``."""
        inner = self.inner
        if inner is None:
            raise InternalError(f"{self.name}: {self.type} without a wrapped layer")
        return inner

    def counts(self, framework: str) -> dict[str, int]:
        return counts(framework, self.weights.get(framework, ()))

    def known(self, shape: Shape) -> tuple[int, ...]:
        """``shape`` with every size an int, as a weight shape or a product of sizes needs.
        The shape rules reject unknown sizes first, with their own message; a ``None`` left
        here is still raised as this layer's ``ShapeError``."""
        sizes = tuple(d for d in shape if d is not None)
        if len(sizes) != len(shape):
            raise self.shape_error(
                f"every size must be known here, got {shape}",
                "give every axis a size",
            )
        return sizes

    def shape_error(self, message: str, accepted: str = "") -> ShapeError:
        """A ``ShapeError`` located at this layer, prefixed with its name and type."""
        shapes = ", ".join(format_shape(s) for s in self.input_shapes)
        text = f"layer '{self.name}' ({self.type}): {message}"
        if shapes:
            text += f". Received input shape {shapes}"
        return ShapeError(self.loc, text, accepted)


@dataclass(frozen=True)
class Stored:
    """Where a model's own checkpoint (a state_dict, ``.safetensors``) keeps one of a layer's
    PyTorch tensors, when not as ``<layer>.<tensor>``: the ``keys`` joined along axis 0, each
    ``transpose``d first (transformers' Conv1D stores (in, out)); ``also`` names the same
    tensor under another key (a tied one: GPT-2's ``lm_head.weight``), read where ``keys``
    are absent, else only its shape checked."""

    keys: tuple[str, ...]
    transpose: bool = False
    also: tuple[str, ...] = ()


@dataclass
class Graph:
    """A whole spec: inputs, layers in topological order, outputs; and, for a spec imported
    from PyTorch, where the model's own checkpoint keeps the tensors that are not
    ``<layer>.<tensor>`` (``checkpoint``: ``"<layer>.<tensor>"`` → ``Stored``)."""

    name: str
    file: str
    description: str
    data_format: str
    nodes: list[Node]
    inputs: list[str]
    outputs: list[str]
    checkpoint: dict[str, Stored] = field(default_factory=dict)

    def node(self, name: str) -> Node:
        for node in self.nodes:
            if node.name == name:
                return node
        raise KeyError(name)

    @property
    def layers(self) -> list[Node]:
        """Every node that is not a model input."""
        return [n for n in self.nodes if n.type != INPUT]

    def counts(self, framework: str) -> dict[str, int]:
        return add_counts(framework, [n.counts(framework) for n in self.nodes])


def format_shape(shape: Shape) -> str:
    """Keras-style shape with the batch dimension: ``(None, None, 10)``."""
    dims = ", ".join("None" if d is None else str(d) for d in (None, *shape))
    return f"({dims})"
