"""The PyTorch model assembled from the IR graph, and its measurement and forward pass.

Each layer type is described once, in its family module, by ``@describes("Type")``: a
function from the IR node to the ``Call`` of its standalone module (class and arguments).
That one description gives both the type's builder in ``BUILDERS`` (the module instantiated
from it) and what ``export`` writes into ``model.py`` (the call as source).

``build`` turns every IR node into one ``torch.nn.Module`` (a builder from ``BUILDERS``) held in
an ``nn.ModuleDict`` keyed by the node's name; ``SpecModule.forward`` evaluates the graph in
the IR's topological order. Each layer module holds its tensors under the names PyTorch itself
gives them (``weight``, ``bias_hh_l0_reverse``, ``running_mean``, ...), so ``measure`` reads
them straight from ``named_parameters()`` / ``named_buffers()``.

Layers that use another layer's tensors reach the other module through a reference PyTorch
does not register, so those tensors are held, counted and saved once, under their owner: a
shared layer applied again is a ``Linked`` module, and a layer tied to others (a Dense tied to
an Embedding) is handed their ``weight`` after its inputs by a ``Tie`` hook, as the exported
network hands it.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from torch import nn

import translator.ops  # noqa: F401  (fills the layer schema that BUILDERS checks types against)
from backends.base import BuilderRegistry, Built, MeasuredTensor, Measurement
from backends.torch.standalone.assemble import Description, as_steps
from backends.torch.standalone.describe import fed, instantiate
from backends.torch.standalone.layers import outputs_of
from translator.errors import BackendError, UnsupportedInBackend
from translator.ir import Graph, Node
from translator.ir.layout import tensor_layouts, to_layout
from translator.ir.placement import output_converts
from translator.registry import Registry

NAME = "torch"

Builder = Callable[[Node], nn.Module]
BUILDERS: BuilderRegistry[Builder] = BuilderRegistry(NAME)
Describe = Callable[[Node], Description]
DESCRIPTIONS: Registry[Describe] = Registry("torch description")


@dataclass(frozen=True)
class Described:
    """The builder of a described layer type: the module its description names."""

    describe: Describe

    def __call__(self, node: Node) -> nn.Module:
        """The module holding the layer's tensors (the main step)."""
        return instantiate(as_steps(self.describe(node)).main)


def describes(*types: str) -> Callable[[Describe], Describe]:
    """Register the description of one or more layer types (node → ``Call`` of the module)
    and, from it, their builder; a type registered twice raises."""

    def register(describe: Describe) -> Describe:
        BUILDERS.register(*types)(Described(describe))
        DESCRIPTIONS.register(*types)(describe)
        return describe

    return register


def describe(node: Node) -> Description:
    """The description of ``node``'s module; a type PyTorch declines raises
    ``UnsupportedInBackend`` with its reason."""
    if node.type in BUILDERS.gaps:
        raise UnsupportedInBackend(NAME, node.type, BUILDERS.gaps[node.type])
    return DESCRIPTIONS[node.type](node)


class Layers(nn.ModuleDict):
    """The per-layer modules, keyed by IR node name.

    A spec may name a layer like an ``nn.Module`` attribute (``update``, ``compile``, ``eval``);
    ``ModuleDict`` refuses such keys, so entries go straight into ``_modules``, which is where
    ``named_parameters()``, ``state_dict()`` and ``self[name]`` look them up anyway.
    """

    def __setitem__(self, key: str, module: nn.Module) -> None:
        self._modules[key] = module


class Linked(nn.Module):
    """A layer module that uses the module built for another layer, named ``target``.

    ``build`` calls ``link`` once the target exists (it is always an earlier layer). The target
    is kept in a plain tuple, outside ``nn.Module``'s registry: registered as a child, its
    parameters would also appear under this layer in ``named_parameters()`` and
    ``state_dict()``, which is exactly what sharing must not do.
    """

    def __init__(self, target: str) -> None:
        super().__init__()
        self.target = target
        self._linked: tuple[nn.Module, ...] = ()

    def link(self, layers: Mapping[str, nn.Module]) -> None:
        if self.target not in layers:
            raise UnsupportedInBackend(NAME, type(self).__name__, f"'{self.target}' is not built")
        self._linked = (layers[self.target],)

    @property
    def linked(self) -> nn.Module:
        """The target's module (set by ``link``)."""
        if not self._linked:  # build() always links; reaching this is a backend bug
            raise BackendError(f"{type(self).__name__} used before it was linked to {self.target}")
        return self._linked[0]

    def extra_repr(self) -> str:
        return f"target={self.target!r}"


class Shared(Linked):
    """A layer that shares another (``{share: enc}``): calls the original layer's module again,
    with its parameters; it holds no tensors of its own."""

    def forward(self, *inputs: torch.Tensor, **options: Any) -> Any:
        return self.linked(*inputs, **options)  # options: nn.MultiheadAttention's need_weights


class Tie:
    """Forward pre-hook of a module tied to other layers (a Dense tied to an Embedding): hands
    it, after its inputs, the ``weight`` of each, as the exported network does. The owners'
    modules are held here, outside ``nn.Module``'s registry, so their tensors stay stored and
    counted once, under their owners."""

    def __init__(self, owners: tuple[nn.Module, ...]) -> None:
        self.owners = owners

    def __call__(self, module: nn.Module, args: tuple[Any, ...]) -> tuple[Any, ...]:
        return (*args, *(owner.weight for owner in self.owners))


def tie(node: Node, module: nn.Module, layers: Mapping[str, nn.Module]) -> None:
    """Hook ``module`` (built for ``node``) to the layers ``node`` links to; a wrapper's
    wrapped layer is its module's child."""
    names = [target.shares or target.name for target in node.links.values()]
    missing = [name for name in names if name not in layers]
    if missing:
        raise UnsupportedInBackend(NAME, node.type, f"'{missing[0]}' is not built")
    if names:
        module.register_forward_pre_hook(Tie(tuple(layers[name] for name in names)))
    if node.inner is not None and is_tied(node.inner):
        tie(node.inner, next(module.children()), layers)


def is_tied(node: Node) -> bool:
    """Whether ``node``, or a layer it wraps, links to other layers."""
    return bool(node.links) or (node.inner is not None and is_tied(node.inner))


def make_module(node: Node, layers: Mapping[str, nn.Module]) -> nn.Module:
    """The module for ``node``, linked to the earlier modules it uses (a wrapper's too)."""
    if node.shares:  # the original's module, already tied, runs again
        shared = Shared(node.shares)
        shared.link(layers)
        return shared
    module = BUILDERS[node.type](node)
    if node.frozen_params("torch"):  # trainable: false, as the exported model.py writes it
        module.requires_grad_(False)
    tie(node, module, layers)
    return module


class SpecModule(nn.Module):
    """The whole network: ``forward(*inputs)`` takes the graph's inputs in ``graph.inputs``
    order and returns one tensor per graph output (two for a Bidirectional output with
    ``merge_mode: null``), in ``graph.outputs`` order."""

    def __init__(self, graph: Graph, layers: dict[str, nn.Module]) -> None:
        super().__init__()
        self.graph = graph
        self.layers = Layers()
        for name, module in layers.items():
            self.layers[name] = module
        self.recorded: dict[str, list[np.ndarray]] | None = None  # layer outputs, when asked
        # The parameterless steps around a layer's module (padding before, activation after).
        self.before, self.after = Layers(), Layers()
        self.takes: dict[str, str] = {}  # what a layer keeps of its module's result
        self.feeds: dict[str, str] = {}  # how its module is called on its inputs
        for node in graph.nodes:
            if node.name in layers and not node.shares:
                around = as_steps(describe(node))
                if around.before:
                    self.before[node.name] = nn.Sequential(
                        *(instantiate(c) for _, c in around.before)
                    )
                if around.take:
                    self.takes[node.name] = around.take
                if around.feed:
                    self.feeds[node.name] = around.feed
                if around.after:
                    self.after[node.name] = nn.Sequential(
                        *(instantiate(c) for _, c in around.after)
                    )

    def step(self, node: Node, args: list[Any]) -> tuple[torch.Tensor, ...]:
        """The node's modules on its inputs: before (the first input), the layer, after."""
        owner = node.shares or node.name
        if owner in self.before:
            args = [self.before[owner](args[0]), *args[1:]]
        result = fed(self.feeds.get(owner, ""), self.layers[node.name], args)
        if owner in self.takes:
            result = result[0][:, -1] if self.takes[owner] == "last" else result[0]
        if owner in self.after:
            result = self.after[owner](result)
        found = outputs_of(result)
        if self.recorded is not None:  # a shared module keeps its own (first) call's
            self.recorded.setdefault(node.name, [t.detach().cpu().numpy().copy() for t in found])
        return found

    def forward(self, *inputs: torch.Tensor) -> tuple[torch.Tensor, ...]:
        values: dict[str, tuple[torch.Tensor, ...]] = dict(
            zip(self.graph.inputs, ((x,) for x in inputs), strict=True)
        )
        for node in self.graph.nodes:
            is_input = node.name in self.graph.inputs
            args = values[node.name] if is_input else _gather(values, node)
            values[node.name] = self.step(node, list(args))
        found = [t for name in self.graph.outputs for t in values[name]]
        converts = output_converts(self.graph)
        return tuple(_moved(t, axes) for t, axes in zip(found, converts, strict=True))


def _moved(t: torch.Tensor, axes: tuple[int, ...] | None) -> torch.Tensor:
    return t if axes is None else t.permute(axes)


def _gather(values: dict[str, tuple[torch.Tensor, ...]], node: Node) -> list[Any]:
    """The node's inputs, each moved to the layout it runs in (``node.placement``)."""
    found = [t for name in node.inputs for t in values[name]]
    return [_moved(t, axes) for t, axes in zip(found, node.placement.converts, strict=True)]


def build(graph: Graph, seed: int = 0) -> Built:
    """Build the real PyTorch model; layers PyTorch cannot build are recorded, not raised."""
    torch.manual_seed(seed)
    layers: dict[str, nn.Module] = {}
    unsupported: dict[str, str] = {}
    for node in graph.nodes:
        try:
            layers[node.name] = make_module(node, layers)
        except UnsupportedInBackend as gap:
            unsupported[node.name] = gap.reason
    return Built(NAME, graph, SpecModule(graph, layers), unsupported)


def _tensors(module: nn.Module) -> tuple[MeasuredTensor, ...]:
    params = tuple(
        MeasuredTensor(name, tuple(p.shape), p.requires_grad, False)
        for name, p in module.named_parameters()
    )
    # Buffers (running statistics, num_batches_tracked) are state, not parameters: PyTorch
    # leaves them out of parameters(), so they are reported apart.
    buffers = tuple(
        MeasuredTensor(name, tuple(b.shape), False, True) for name, b in module.named_buffers()
    )
    return params + buffers


def _counts(module: nn.Module) -> dict[str, int]:
    total = sum(p.numel() for p in module.parameters())
    trainable = sum(p.numel() for p in module.parameters() if p.requires_grad)
    return {
        "total": total,
        "trainable": trainable,
        "non_trainable": total - trainable,
        "buffers": sum(b.numel() for b in module.buffers()),
    }


def measure(built: Built) -> Measurement:
    """Every built layer's tensors and counts, and the whole model's counts."""
    model: SpecModule = built.model
    layers = {
        node.name: (_tensors(model.layers[node.name]), _counts(model.layers[node.name]))
        for node in built.graph.nodes
        if node.name in model.layers
    }
    return Measurement(NAME, layers, _counts(model))


def _tensor(node: Node, array: Any) -> torch.Tensor:
    dtype = np.float32 if node.dtype == "float32" else np.dtype(node.dtype)
    # A copy: the caller's array may be read-only (a broadcast view), which torch refuses.
    return torch.from_numpy(np.array(array, dtype=dtype))


def run(built: Built, inputs: dict[str, Any]) -> list[np.ndarray]:
    """Inference (dropout off, batch norm on running statistics), float32; ``inputs`` and the
    outputs in the spec's layout (the model takes and gives PyTorch's natural one)."""
    graph: Graph = built.graph
    if built.unsupported:
        gaps = "; ".join(f"{name}: {why}" for name, why in built.unsupported.items())
        raise BackendError(f"{graph.name}: the torch model cannot run, not built: {gaps}")
    missing = [name for name in graph.inputs if name not in inputs]
    if missing:
        raise BackendError(f"{graph.name}: no array given for input(s) {', '.join(missing)}")
    layouts = tensor_layouts(graph)
    arrays = to_layout([inputs[name] for name in graph.inputs], layouts.inputs, True)
    tensors = [_tensor(graph.node(name), a) for name, a in zip(graph.inputs, arrays, strict=True)]
    model: SpecModule = built.model
    model.eval()
    with torch.no_grad():
        outputs = model(*tensors)
    found = [t.detach().cpu().numpy() for t in outputs]
    return to_layout(found, layouts.outputs, True, back=True)
