"""What the importer reads of an exported program besides its module calls: its inputs and
outputs (the spec's); the values it computes from no input (``evaluated``: position ids,
masks made from the static shapes, rotary tables), folded into the layers that read them,
and what a constant attention mask means (``masked_causally``); where the model's own
state_dict keeps the tensors the spec joins, transposes or ties (``checkpoint_of``); the
parameters it never reads (listed, but for a second name of a tied tensor, as GPT-2's
``transformer.wte.weight`` is ``lm_head.weight``).
"""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING, Any

import torch

from backends.torch import importing  # which imports this module: names used at run time
from translator.commands.importing import Unclaimed, spec_text
from translator.errors import SpecErrors
from translator.ir import INPUT
from translator.ops.attention import mask_is_causal, rotary_base
from translator.spec.schema import SCHEMAS

if TYPE_CHECKING:  # importing.py imports this module
    from backends.torch.importing import ModuleCall, Reading


def add_input(reading: Reading, node: Any, name: str) -> None:
    """The spec input a placeholder of the program is (its name given, its batch axis aside)."""
    value = node.meta["val"]
    dtype = str(value.dtype).removeprefix("torch.")
    entry: dict[str, Any] = {
        "name": reading._name(name, INPUT),
        "shape": list(value.shape[1:]),
    }
    if dtype != "float32":
        entry["dtype"] = dtype
    reading.inputs.append(entry)
    reading.refs[node] = entry["name"]


def frozen(program: Any, path: str) -> bool:
    """Whether the module at ``path`` holds parameters and none of them is trained
    (``requires_grad_(False)``, which the program keeps): the spec's ``trainable: false``."""
    names = program.graph_signature.parameters
    held = [program.state_dict[k] for k in names if k.startswith(f"{path}.")]
    return bool(held) and not any(p.requires_grad for p in held)


def last(reading: Reading) -> None:
    """The layer just added works on channels-last data (set after ``Reading.add``, which
    leaves out an argument at its schema default, channels last)."""
    reading.layers[-1]["data_format"] = "channels_last"


def spec_of(reading: Reading, name: str) -> dict[str, Any]:
    """The spec mapping: name, data format, inputs, layers, outputs."""
    spec: dict[str, Any] = {"name": name}
    layers = [layer for layer in reading.layers if "type" in layer]  # not shares
    layers += [w["layer"] for w in layers if "layer" in w]
    # A layer of channels-last data (model.py's pools of a sequence) states it (``last``);
    # the others take the spec's, PyTorch's channels first.
    formats = (layer for layer in layers if "data_format" not in layer)
    if any("data_format" in SCHEMAS[layer["type"]].arg_index for layer in formats):
        spec["data_format"] = "channels_first"
    else:
        for layer in layers:
            layer.pop("data_format", None)  # channels last: the spec's default
    spec["inputs"], spec["layers"] = reading.inputs, reading.layers
    output = next(n for n in reading.program.graph.nodes if n.op == "output")
    outputs = [reading.refs.get(n, "") for n in output.args[0]]
    if outputs != [reading.previous()]:
        spec["outputs"] = outputs[0] if len(outputs) == 1 else outputs
    return spec


def checkpoint_of(reading: Reading, spec: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """Where the model's own state_dict keeps the spec's tensors that are not ``<module
    path>.<tensor>`` (see ``backends.torch.weights.checkpoint_section``); empty when the
    spec does not load (the import command reports why)."""
    from backends.torch.weights import checkpoint_section
    from translator.spec.loader import load_text

    try:
        graph = load_text(spec_text(spec))
    except SpecErrors:
        return {}
    state = dict(reading.program.state_dict)
    return checkpoint_section(state, reading.sources, reading.joined, graph, reading.transposed)


# Constants larger than this (elements) are left to the layers reading them: folding is for
# position ids, masks and rotary tables, whose sizes are the sequence's.
CONSTANT_LIMIT = 1 << 22


def stored(program: Any, key: str) -> torch.Tensor:
    """A tensor of the program by name: a parameter or persistent buffer (in its
    state_dict), or a non-persistent buffer (in its constants, as BERT's position ids)."""
    return program.state_dict[key] if key in program.state_dict else program.constants[key]


def evaluated(reading: Reading, node: Any) -> torch.Tensor | None:
    """``node``'s value when it reads only buffers, constants and other such nodes."""
    if not hasattr(node, "op"):
        return node  # a literal argument
    if node.op == "placeholder":
        signature = reading.program.graph_signature
        if node.name in signature.inputs_to_buffers:
            return stored(reading.program, reading.key(node))
        lifted = signature.inputs_to_lifted_tensor_constants
        return reading.program.constants[lifted[node.name]] if node.name in lifted else None
    if node.op != "call_function" or any(reading.constant(a) is None for a in node.all_input_nodes):
        return None
    value = node.meta.get("val")
    if value is None or not hasattr(value, "numel") or value.numel() > CONSTANT_LIMIT:
        return None

    def real(a: Any) -> Any:
        return reading.constant(a) if hasattr(a, "op") else a

    args = torch.fx.node.map_arg(node.args, real)
    kwargs = torch.fx.node.map_arg(node.kwargs, real)
    with torch.no_grad():
        return node.target(*args, **kwargs)


def list_unread_parameters(reading: Reading) -> None:
    """Each parameter the program never reads, listed; but not a tied one's second name
    (GPT-2's ``transformer.wte.weight``, the same tensor as ``lm_head.weight``, which is read)."""
    program = reading.program
    placeholders = {n.name: n for n in program.graph.nodes if n.op == "placeholder"}
    parameters = program.graph_signature.inputs_to_parameters
    read = {_storage(program.state_dict[k]) for p, k in parameters.items() if placeholders[p].users}
    for placeholder, key in parameters.items():
        tensor = program.state_dict[key]
        if not placeholders[placeholder].users and _storage(tensor) not in read:
            size = int(tensor.numel())
            reading.refused.append(Unclaimed(key, "Parameter", size, "the program never reads it"))


def _storage(tensor: torch.Tensor) -> tuple[int, tuple[int, ...]]:
    """Where a tensor's values are and its shape: the same for two names of one tensor."""
    return tensor.data_ptr(), tuple(tensor.shape)


def masked_causally(r: Reading, mask: Any) -> bool:
    """Whether a constant attention mask is causal (True) or masks nothing (False)."""
    value = r.constant(mask)
    if value is None:
        raise importing.Refused("an attention mask an input reaches (the spec's is causal or none)")
    try:
        return mask_is_causal(value.numpy())
    except ValueError as exc:
        raise importing.Refused(str(exc)) from None


# Rotary position embeddings as Llama applies them to a (batch, heads, steps, size) head:
# ``x·cos + rotate_half(x)·sin``, rotate_half(x) = cat(−x[…, half:], x[…, :half]), with cos and
# sin tables computed from no input. Their base is read off the tables (the angle of position
# 1, feature 1 is base^(−2/size)) and every entry checked against Llama's formula.


def unrotated(reading: Reading, node: Any) -> tuple[Any, float] | None:
    """(the heads a rotary embedding turned, its base) when ``node`` is one; else None."""
    products = node.args[:2] if importing.op_name(node) == "add" else ()
    if len(products) != 2 or not all(
        importing.op_name(p) == "mul" for p in products if hasattr(p, "op")
    ):
        return None
    tables = (_with_table(reading, p) for p in products if hasattr(p, "op"))
    found = [table for table in tables if table is not None]
    if len(found) != 2:
        return None
    (x, cos), (turned, sin) = found
    if not _turns_half(turned, x):
        (x, cos), (turned, sin) = (turned, sin), (x, cos)
    if not _turns_half(turned, x):
        return None
    return x, _base(cos, sin, importing.Reading.shape(x)[-1])


def _with_table(reading: Reading, product: Any) -> tuple[Any, torch.Tensor] | None:
    """(the operand an input reaches, the other's constant value), or None."""
    first, second = (reading.constant(a) for a in product.args[:2])
    if second is not None and first is None:
        return product.args[0], second
    if first is not None and second is None:
        return product.args[1], first
    return None


def _turns_half(turned: Any, x: Any) -> bool:
    """Whether ``turned`` is cat(−x[…, half:], x[…, :half]) along the last axis."""
    name = importing.op_name
    if name(turned) != "cat" or len(turned.args[0]) != 2 or name(turned.args[0][0]) != "neg":
        return False
    (negated, first), rank = turned.args[0], len(importing.Reading.shape(x))
    half = importing.Reading.shape(x)[-1] // 2
    slices = (first, negated.args[0])
    if not all(
        name(s) == "slice" and s.args[0] is x and s.args[1] % rank == rank - 1 for s in slices
    ):
        return False
    return [tuple(s.args[2:4]) for s in slices] == [(0, half), (half, sys.maxsize)]


def _base(cos: torch.Tensor, sin: torch.Tensor, size: int) -> float:
    """The base Llama's tables of cos and sin were made with; refused if they are not."""
    try:
        return rotary_base(cos.detach().numpy(), sin.detach().numpy(), size)
    except ValueError as exc:
        raise importing.Refused(str(exc)) from None


def stand_in(reading: Reading, call: ModuleCall, name: str) -> tuple[tuple[int, ...] | None, str]:
    """The batch-less shape and dtype of the one value an unclaimed call gives the rest of
    the program, which then reads it by the call's name (a partial spec's stand-in input);
    (None, "") for a call of no such single tensor value."""
    inside = set(call.nodes)
    given = [n for n in call.nodes if any(u not in inside for u in n.users)]
    value = given[0].meta.get("val") if len(given) == 1 else None
    if not isinstance(value, torch.Tensor) or value.dim() < 2:
        return None, ""
    reading.refs.setdefault(given[0], name)
    return reading.shape(given[0])[1:], str(value.dtype).removeprefix("torch.")
