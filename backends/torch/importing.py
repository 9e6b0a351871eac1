"""Importing a PyTorch program: a ``torch.export`` program (a ``.pt2`` file, or an
``nn.Module`` exported in memory) → a spec and its weights.

The program's ATen nodes are grouped back into module calls by ``node.meta["nn_module_stack"]``:
a node belongs to the outermost module on its stack whose class has an importer
(``@MODULES.register("Linear")``, in the family modules), so a module is read whole however
many ATen ops it became, and a custom module (a residual block) is read through to the modules
and operations inside it. A node in no such module is a free operation (``x + y``,
``torch.flatten``, ``F.relu``), read by the importer of its ATen operator
(``@FUNCTIONS.register("Add")``, the operator's name in CamelCase). Layers are named after
their module path (``encoder.layer.0.attention.self.query`` →
``encoder_layer_0_attention_self_query``), so a state_dict of the model maps back to them by
that rule (``backends.torch.weights``). A spec read from PyTorch is ``channels_first``
(PyTorch's layout) when it has a layer with a data format. A module or operation no importer
claims is listed with its parameters and the reason; so is a parameter the program never reads.

The file is untrusted: ``backends.torch.reading`` checks it before ``torch.export.load`` runs.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch

from backends.torch import program as program_
from backends.torch.model import NAME
from translator.commands.importing import (
    ExampleInput,
    Imported,
    Unclaimed,
    spec_name,
    wrapper_args,
)
from translator.errors import SpecError
from translator.ir import Graph
from translator.registry import Registry
from translator.spec.values import snake_case
from translator.weights.canonical import Weights

# What an importer meeting a call in a form it did not foresee raises (an argument of another
# type, a missing shape): the call is listed as not understood, with the error.
UNFORESEEN = (KeyError, IndexError, TypeError, ValueError, AttributeError)


class Refused(Exception):
    """An importer cannot claim a module call or operation; the message says why."""


@dataclass
class ModuleCall:
    """One call of a module (its ATen nodes, in order), or one free operation (``path``
    empty, ``cls`` the operator)."""

    path: str
    cls: str
    nodes: list[Any]

    def op(self, *names: str) -> Any:
        """The call's node of ATen operator ``names`` (the first found); refused if none."""
        for node in self.nodes:
            if op_name(node) in names:
                return node
        raise Refused(f"no {' or '.join(names)} operation inside (a changed forward?)")


Reader = Callable[["Reading", ModuleCall], None]
# nn.Module class name → importer of its calls; ATen operator in CamelCase → importer.
MODULES: Registry[Reader] = Registry("PyTorch module importer")
FUNCTIONS: Registry[Reader] = Registry("PyTorch operator importer")
# A module of any class known by the shape of its operations (q/k/v/o attention): the name
# its importer has in MODULES → how many of a call's first nodes have that shape (0: none;
# BERT's attention module ends with its residual and LayerNorm, read as layers of their own).
SHAPES: Registry[Callable[[list[Any]], int]] = Registry("PyTorch module shape")


def op_name(node: Any) -> str:
    """``aten.add.Tensor`` → ``add``; ``operator.getitem`` → ``getitem``; an in-place
    variant is its operation (``relu_`` → ``relu``: the same values)."""
    target = node.target
    name = str(getattr(target, "_opname", getattr(target, "__name__", target)))
    return name[:-1] if name.endswith("_") and not name.startswith("_") else name


def camel(name: str) -> str:
    """``adaptive_avg_pool2d`` → ``AdaptiveAvgPool2d``."""
    return "".join(part[:1].upper() + part[1:] for part in name.split("_") if part)


def module_stack(node: Any) -> list[tuple[str, str, str]]:
    """The node's module calls, outermost first: (call key, module path, class name); a
    module called twice has two keys (``L__self__pool``, ``L__self__pool@1``)."""
    stack = node.meta.get("nn_module_stack") or {}
    return [(key, path, str(cls).rsplit(".", 1)[-1]) for key, (path, cls) in stack.items()]


@dataclass
class Reading:
    """The program under reading: the spec name of each node's value, the layers so far,
    their weights (state_dict key per IR tensor name) and what is refused."""

    program: Any
    refs: dict[Any, str] = field(default_factory=dict)
    layers: list[dict[str, Any]] = field(default_factory=list)
    sources: dict[str, str] = field(default_factory=dict)  # layer → module path
    inputs: list[dict[str, Any]] = field(default_factory=list)
    refused: list[Unclaimed] = field(default_factory=list)
    claimed: set[Any] = field(default_factory=set)
    taken: set[str] = field(default_factory=set)
    groups: dict[Any, ModuleCall] = field(default_factory=dict)
    # Layer → IR tensor → the program's tensors it joins (along axis 0), where not one.
    joined: dict[str, dict[str, list[str]]] = field(default_factory=dict)
    # Layer → IR tensors stored transposed in the program (transformers' Conv1D: (in, out)).
    transposed: dict[str, set[str]] = field(default_factory=dict)
    # A weight's placeholder → the Embedding layer whose table it is (a Linear reading it is tied).
    tables: dict[Any, str] = field(default_factory=dict)
    # Node → its value, for a node no input and no parameter reaches (None: one they reach).
    constants: dict[Any, torch.Tensor | None] = field(default_factory=dict)

    def value(self, node: Any) -> str:
        """The spec name of a node's value; refused when no layer made it."""
        if node not in self.refs:
            raise Refused(f"reads '{getattr(node, 'name', node)}', which no layer made")
        return self.refs[node]

    def tensor(self, node: Any) -> torch.Tensor:
        """A parameter or buffer of the program, by its placeholder."""
        if not self.is_weight(node):
            raise Refused(f"'{node.name}' is not a parameter of the program")
        return program_.stored(self.program, self.key(node))

    @staticmethod
    def shape(node: Any) -> tuple[int, ...]:
        return tuple(int(d) for d in node.meta["val"].shape)

    def constant(self, node: Any) -> torch.Tensor | None:
        """The value of a node that neither an input nor a parameter reaches (an ``arange``
        of positions, a causal mask made from the static shapes, a buffer), computed once;
        None for any other node, or a constant larger than ``program_.CONSTANT_LIMIT``."""
        if node not in self.constants:
            self.constants[node] = program_.evaluated(self, node)
        return self.constants[node]

    def only_user(self, node: Any) -> Any | None:
        users = list(node.users)
        return users[0] if len(users) == 1 else None

    def call_of(self, node: Any) -> ModuleCall:
        """The module call ``node`` belongs to, or the node as a free operation."""
        return self.groups.get(node) or ModuleCall("", camel(op_name(node)), [node])

    def claim(self, call: ModuleCall) -> None:
        self.claimed.update(call.nodes)

    def add(self, call: ModuleCall, layer: dict[str, Any], inputs: list[Any], output: Any) -> str:
        """Add the spec layer ``{type, args}`` read from ``call``, taking ``inputs`` (nodes
        whose values layers made) and making ``output``'s value. Returns its name."""
        try:
            args = wrapper_args(layer["type"], {k: v for k, v in layer.items() if k != "type"})
        except SpecError as exc:
            raise Refused(f"{exc.message}; {exc.accepted}") from None
        name = self._name(call.path or call.nodes[0].name, layer["type"])
        entry: dict[str, Any] = {"name": name, "type": layer["type"], **args}
        if call.path and program_.frozen(self.program, call.path):
            entry["trainable"] = False
        if call.path in self.sources.values() and self._holds_weights(call.path):
            first = next(k for k, v in self.sources.items() if v == call.path)
            entry = {"name": name, "share": first}  # the module called again: its weights
        refs = [self.value(node) for node in inputs]
        if refs != [self.previous()]:
            entry["inputs"] = refs[0] if len(refs) == 1 else refs
        self.layers.append(entry)
        self.sources[name] = call.path
        self.refs[output] = name
        return name

    def previous(self) -> str | None:
        if self.layers:
            return str(self.layers[-1]["name"])
        return str(self.inputs[0]["name"]) if len(self.inputs) == 1 else None

    def _name(self, path: str, type_: str) -> str:
        return spec_name(path, snake_case(type_), self.taken)

    def unclaimed(self, call: ModuleCall, reason: str) -> None:
        used = {a for node in call.nodes for a in node.all_input_nodes if a.op == "placeholder"}
        params = sum(self.tensor(a).numel() for a in used if self.is_weight(a))
        inner = module_stack(call.nodes[0])
        name = call.path or (inner[-1][1] if inner else "") or call.nodes[0].name
        shape, dtype = program_.stand_in(self, call, name)
        self.refused.append(Unclaimed(name, call.cls, int(params), reason, shape, dtype))

    def key(self, node: Any) -> str:
        """The program's name of a parameter or buffer, by its placeholder ('' for None)."""
        signature = self.program.graph_signature
        tables = {**signature.inputs_to_parameters, **signature.inputs_to_buffers}
        return "" if node is None else str(tables[node.name])

    def _holds_weights(self, path: str) -> bool:
        return any(k.startswith(f"{path}.") for k in self.program.state_dict)

    def is_weight(self, node: Any) -> bool:
        signature = self.program.graph_signature
        return node.name in {**signature.inputs_to_parameters, **signature.inputs_to_buffers}


def _module_calls(program: Any) -> dict[str, ModuleCall]:
    """Every module call on the nodes' stacks (the root's aside): its nodes, in order."""
    calls: dict[str, ModuleCall] = {}
    for node in program.graph.nodes:
        for key, path, cls in module_stack(node) if node.op == "call_function" else ():
            if path:
                calls.setdefault(key, ModuleCall(path, cls, [])).nodes.append(node)
    return calls


def _group(reading: Reading) -> None:
    """Each node → its module call: first a call of a class without an importer whose
    operations have a registered shape (``SHAPES``, innermost first; of a class with an
    importer too when the shape takes every node: model.py's ``ReLU`` beside nn.ReLU), then
    the outermost call of a class with an importer (``MODULES``), which reads its module whole."""
    calls = _module_calls(reading.program)
    for call in sorted(calls.values(), key=lambda c: -c.path.count(".")):
        fits = ((name, fit(call.nodes)) for name, fit in SHAPES.items())
        shape, length = next(((name, n) for name, n in fits if n), ("", 0))
        by_shape = call.cls not in MODULES or call.cls in SHAPES or length == len(call.nodes)
        if not by_shape:  # nn.MultiheadAttention: read whole by its importer
            continue
        nodes = call.nodes[:length]
        if length and not any(n in reading.groups for n in nodes):
            shaped = ModuleCall(call.path, shape, nodes)
            reading.groups.update(dict.fromkeys(nodes, shaped))
    for node in reading.program.graph.nodes:
        owner = next((k for k, p, c in module_stack(node) if p and c in MODULES), None)
        if node.op == "call_function" and owner is not None and node not in reading.groups:
            reading.groups[node] = calls[owner]


def _read_call(reading: Reading, node: Any) -> None:
    if reading.constant(node) is not None:
        return  # computed from no input: read by the layers using it
    call = reading.call_of(node)
    reader = MODULES.get(call.cls) if call.path else FUNCTIONS.get(call.cls)
    try:
        if reader is None:
            inner = module_stack(node)[-1][2] if module_stack(node) else "the model"
            raise Refused(f"no importer for this operation (in {inner})")
        reader(reading, call)
    except Refused as exc:
        reading.unclaimed(call, str(exc))
    except UNFORESEEN as exc:  # a form no importer foresaw: listed, never a traceback
        reading.unclaimed(call, f"not understood ({type(exc).__name__}: {exc})")
    reading.claim(call)


def read_program(program: Any, names: list[str] | None = None) -> Reading:
    """Every node of ``program`` claimed or listed (see the module doc); the inputs are
    named ``names``, else as the program's placeholders."""
    reading = Reading(program)
    _group(reading)
    for node in program.graph.nodes:  # in order, so that no value is found by deep recursion
        reading.constant(node)
    user_inputs = list(program.graph_signature.user_inputs)
    named = dict(zip(user_inputs, names or user_inputs, strict=False))
    for node in program.graph.nodes:
        if node.op == "placeholder" and node.name in named:
            program_.add_input(reading, node, named[node.name])
        elif node.op == "call_function" and node not in reading.claimed:
            _read_call(reading, node)
    program_.list_unread_parameters(reading)
    return reading


def arg(node: Any, index: int, name: str, default: Any = None) -> Any:
    """An ATen call's argument by position or keyword, else its schema default."""
    if len(node.args) > index:
        return node.args[index]
    return node.kwargs.get(name, default)


def import_program(program: Any, name: str, inputs: list[str] | None = None) -> Imported:
    """A spec, its unclaimed calls and its weights from an exported program."""
    reading = read_program(program, inputs)
    spec = program_.spec_of(reading, re.sub(r"\W", "_", name) or "model")
    section = {} if reading.refused else program_.checkpoint_of(reading, spec)
    spec |= {"checkpoint": section} if section else {}
    return Imported(NAME, spec, reading.refused, lambda graph: reading_weights(reading, graph))


def reading_weights(reading: Reading, graph: Graph) -> Weights:
    """The program's weights for ``graph`` (see ``backends.torch.weights.program_weights``)."""
    from backends.torch.weights import program_weights

    state = {**reading.program.state_dict, **reading.program.constants}
    return program_weights(state, reading.sources, reading.joined, graph, reading.transposed)


def import_object(model: Any, inputs: list[ExampleInput], source: str) -> Imported:
    """An ``nn.Module`` from a factory, traced on its ``--input`` examples, then read as a
    saved program is."""
    from backends.torch.reading import trace

    program = trace(model, inputs, source)
    return import_program(program, source.rpartition(":")[2], [i.name for i in inputs])


def import_file(path: str | Path) -> Imported:
    """Read the ``.pt2`` at ``path`` into a spec, its unclaimed calls and its weights."""
    from backends.torch.reading import load

    return import_program(load(path), Path(path).stem)
