"""Recurrent layers: SimpleRNN, LSTM, GRU, with Keras's semantics.

Native ``nn.RNN``/``nn.LSTM``/``nn.GRU`` are used whenever they compute what Keras computes
(tanh/sigmoid, or relu for SimpleRNN; GRU with ``reset_after: true``). Everything else —
other activations, and Keras's reset-before GRU, which PyTorch does not have — runs in
``CustomRecurrent``, an exact step-by-step module that keeps PyTorch's tensor names.

Keras semantics kept here: ``go_backwards`` reverses the input and returns outputs in
processing order; ``return_sequences: false`` returns the last step. ``Bidirectional``
(wrappers.py) describes the same modules with two directions and a merge mode. The modules
are the standalone ones (``backends/torch/standalone/recurrent.py``) that ``export`` copies
into ``model.py``.

``num_layers: N`` is PyTorch's stack (tensors ``weight_ih_l{i}``, ...), with the semantics of N
chained Keras layers: each returns its whole sequence to the next, the last one applies
``return_sequences``. With ``go_backwards`` every layer of the chain goes backwards, i.e. each
reverses the sequence it reads (so layer 1 reads layer 0's outputs back in time order); a
native stack would reverse only the first input, so that case runs in ``CustomRecurrent``.
"""

from __future__ import annotations

from typing import Any

from backends.torch.importing import (
    FUNCTIONS,
    MODULES,
    ModuleCall,
    Reading,
    Refused,
    arg,
    module_stack,
    op_name,
)
from backends.torch.model import describes
from backends.torch.standalone.assemble import Call, Description, Steps, call
from backends.torch.standalone.describe import arguments
from backends.torch.standalone.layers import ACTIVATIONS
from backends.torch.standalone.recurrent import CELLS as standalone_cells
from translator.commands.importing import written_args
from translator.ir import Node
from translator.ops.recurrent import GATES, sequence_dims
from translator.ops.wrappers import bidirectional_layer

# Layer type → the name of its ``CustomRecurrent`` cell (reset-before GRU: see ``cell_name``).
CELLS = {"SimpleRNN": "simple_rnn", "LSTM": "lstm", "GRU": "gru"}
# Layer type → the argument values its native module (the runtime class of the type's name)
# computes exactly.
NATIVE: dict[str, dict[str, tuple[Any, ...]]] = {
    "SimpleRNN": {"activation": ("tanh", "relu")},
    "LSTM": {"activation": ("tanh",), "recurrent_activation": ("sigmoid",)},
    "GRU": {"activation": ("tanh",), "recurrent_activation": ("sigmoid",), "reset_after": (True,)},
}


def cell_name(node: Node) -> str:
    """The standalone ``CustomRecurrent`` cell computing ``node``'s recurrence."""
    return "gru_reset_before" if not node.args.get("reset_after", True) else CELLS[node.type]


def native_is_exact(node: Node) -> bool:
    """Whether the native module computes what the Keras layer (or chain of layers) does."""
    if node.args["go_backwards"] and node.args["num_layers"] > 1:
        return False  # a native stack reverses only its input, not between layers
    return all(node.args[name] in values for name, values in NATIVE[node.type].items())


def recurrent_call(node: Node, native: bool, **two_directions: Any) -> Call:
    """The native module of ``node``'s type (``native``) or ``CustomRecurrent``, with
    ``two_directions`` (``bidirectional``, ``merge_mode``) for a Bidirectional's layer."""
    a = node.args
    _, features = sequence_dims(node)
    flags = {**arguments(node, "use_bias", "return_sequences", "go_backwards"), **two_directions}
    if a["num_layers"] > 1:  # left out otherwise, as the runtime's default
        flags["num_layers"] = a["num_layers"]
    if native:
        activation = {"activation": a["activation"]} if node.type == "SimpleRNN" else {}
        return call(node.type, features, units=a["units"], **activation, **flags)
    gates = {"recurrent_activation": a["recurrent_activation"]} if node.type != "SimpleRNN" else {}
    options = {"units": a["units"], "activation": a["activation"], **gates, **flags}
    return call("CustomRecurrent", cell_name(node), features, **options)


# Layer type → its torch.nn module.
TORCH_CLASSES = {"SimpleRNN": "nn.RNN", "LSTM": "nn.LSTM", "GRU": "nn.GRU"}


@describes(*GATES)
def describe_recurrent(node: Node) -> Description:
    """SimpleRNN/LSTM/GRU(units, activation=tanh, [recurrent_activation=sigmoid,
    reset_after=True,] use_bias=True, return_sequences=False, go_backwards=False,
    num_layers=1) → ``nn.RNN``/``nn.LSTM``/``nn.GRU`` (``batch_first=True``), keeping its
    output sequence or last step, when exact (going backwards: on its input flipped in
    time, ``rnn(x.flip(1))``, whose outputs are Keras's, in processing order); else
    ``CustomRecurrent``."""
    a = node.args
    if not native_is_exact(node):
        return recurrent_call(node, False)
    feed = "backwards" if a["go_backwards"] else ""
    return Steps(
        torch_module(node), take="sequence" if a["return_sequences"] else "last", feed=feed
    )


def torch_module(node: Node, **more: Any) -> Call:
    """``nn.RNN``/``nn.LSTM``/``nn.GRU`` for ``node``, batch first, its defaults left out."""
    a = node.args
    _, features = sequence_dims(node)
    options: dict[str, Any] = {"batch_first": True}
    if a["num_layers"] > 1:
        options["num_layers"] = a["num_layers"]
    if not a["use_bias"]:
        options["bias"] = False
    if node.type == "SimpleRNN" and a["activation"] != "tanh":
        options["nonlinearity"] = a["activation"]
    return call(TORCH_CLASSES[node.type], features, a["units"], **options, **more)


# Importing: nn.LSTM / nn.GRU / nn.RNN, batch first, one direction, from zero state → LSTM,
# GRU (PyTorch's is Keras's ``reset_after: true``), SimpleRNN (``nonlinearity='relu'`` →
# ``activation: relu``). The output sequence read as is gives ``return_sequences: true``; its
# last step only (``y[:, -1]``), ``false``. The weights are the module's own, layer by layer.
# nn.LSTM/GRU/RNN, and model.py's own SimpleRNN (its LSTM and GRU share torch's names).
SPEC_TYPES = {"LSTM": "LSTM", "GRU": "GRU", "RNN": "SimpleRNN", "SimpleRNN": "SimpleRNN"}
# How model.py's recurrent classes merge two directions (Keras's merge modes), by the
# operation ending the call: concat, sum, mul and ave; two outputs are merge_mode null.
MERGES = {"cat": "concat", "add": "sum", "mul": "mul", "div": "ave"}
RECURRENT_OPS = ("lstm", "gru", "rnn_tanh", "rnn_relu")


def _last_step(r: Reading, sequence: Any) -> Any | None:
    """The node taking only the last step of ``sequence`` (``select(1, -1)``), if that is
    the sequence's only reader."""
    user = r.only_user(sequence)
    if user is None or op_name(user) != "select" or user in r.claimed:
        return None
    steps = Reading.shape(sequence)[1]
    if arg(user, 1, "dim") != 1 or arg(user, 2, "index") % steps != steps - 1:
        return None
    return user


def _states_read(call: ModuleCall, node: Any) -> bool:
    """Whether anything outside the call reads the final states (outputs 1 and 2)."""
    states = [u for u in node.users if op_name(u) == "getitem" and u.args[1] != 0]
    return any(set(s.users) - set(call.nodes) for s in states)


def _time_flip(node: Any) -> bool:
    """Whether ``node`` reverses time (``flip`` of axis 1) for one-direction, one-layer
    recurrent modules only: their ``go_backwards`` (Keras hands on its sequence in processing
    order, as the module's output on the flipped input is)."""
    if op_name(node) != "flip" or [int(d) for d in arg(node, 1, "dims")] != [1]:
        return False
    return all(
        op_name(u) in RECURRENT_OPS and arg(u, 4, "num_layers") == 1 and u.args[0] is node
        for u in node.users
    )


def _merged(call: ModuleCall, sequence: Any) -> tuple[str | None, list[Any]]:
    """How a two-direction call's result leaves it: (merge mode, the nodes read outside
    it): nn.LSTM's own sequences (concat), or model.py's classes merging as Keras does."""
    inside = set(call.nodes)
    outputs = [n for n in call.nodes if any(u not in inside for u in n.users)]
    if sequence not in inside or outputs == [sequence]:
        return "concat", [sequence]
    if len(outputs) == 2:
        return None, outputs  # merge_mode null: both directions, in that order
    if len(outputs) != 1 or op_name(outputs[0]) not in MERGES:
        raise Refused("two directions merged otherwise than Keras merges them")
    return MERGES[op_name(outputs[0])], outputs


@FUNCTIONS.register("Flip")
def read_time_flip(r: Reading, call: ModuleCall) -> None:
    """``x.flip(1)`` read by recurrent modules only: taken in by them (``go_backwards``), no
    layer of its own."""
    if not _time_flip(call.nodes[0]):
        raise Refused("a flip other than of time before one-direction recurrent layers")


@MODULES.register(*SPEC_TYPES)
def read_recurrent(r: Reading, call: ModuleCall) -> None:
    """nn.LSTM/GRU/RNN(in, hidden, num_layers, bias, batch_first=True[, bidirectional]) → LSTM,
    GRU, SimpleRNN (or their Bidirectional)."""
    node = call.op(*RECURRENT_OPS)
    x, hx, params = node.args[0], arg(node, 1, "hx"), arg(node, 2, "params")
    has_biases, layers = arg(node, 3, "has_biases"), arg(node, 4, "num_layers")
    if not arg(node, 8, "batch_first"):
        raise Refused("batch_first=False (time first) is not recognised")
    starts = hx if isinstance(hx, list | tuple) else [hx]
    if any(op_name(h) not in ("zeros", "new_zeros") for h in starts):
        raise Refused("it starts from a given state (the spec's layers start from zeros)")
    if _states_read(call, node):
        raise Refused("its final states are read (states are not in the spec)")
    sequence = next(u for u in node.users if op_name(u) == "getitem" and u.args[1] == 0)
    both = bool(arg(node, 7, "bidirectional"))
    backwards = _time_flip(x)  # model.py's go_backwards: rnn(x.flip(1))
    x = x.args[0] if backwards else x
    last = None if both else _last_step(r, sequence)  # backward's last step is not Keras's
    merge, outputs = _merged(call, sequence) if both else ("concat", [sequence])
    type_ = SPEC_TYPES[call.cls]
    values: dict[str, Any] = {"units": Reading.shape(params[1])[1], "use_bias": bool(has_biases)}
    steps = last is None and len(Reading.shape(outputs[0])) == 3
    values |= {"num_layers": layers, "return_sequences": steps}
    if backwards:
        values["go_backwards"] = True
    if op_name(node) == "rnn_relu":
        values["activation"] = "relu"
    if last is not None:
        r.claim(r.call_of(last))
    layer = {"type": type_, **values}
    if both:  # both directions, merged as Keras merges them: Bidirectional
        layer = bidirectional_layer({"type": type_, **written_args(type_, values)}, merge)
    name = r.add(call, layer, [x], outputs[0] if last is None else last)
    r.refs.update(dict.fromkeys(outputs[1:], name))  # merge_mode null: its second output


# model.py's CustomRecurrent: a Python loop over the steps, which torch.export unrolls; read
# whole from its tensors (gates per unit: the cell; ``bias_l0`` alone: Keras's reset-before
# GRU), its activation submodules (by class) and its output's rank.
_CELL_TYPES = {standalone_cells[cell].gates: type_ for type_, cell in CELLS.items()}
_ACTIVATION_CLASSES = {
    cls.removeprefix("nn."): name
    for name, (cls, kwargs) in sorted(ACTIVATIONS.items(), reverse=True)
    if not kwargs and cls != "nn.GELU"  # GELU's class alone does not say which one
}


def _step_activations(call: ModuleCall) -> dict[str, str | None]:
    """``activation`` and ``recurrent_activation`` by the classes of the submodules called
    (an ``nn.Identity``, linear, leaves no operation: None)."""
    found: dict[str, str | None] = {"activation": None, "recurrent_activation": None}
    for node in call.nodes:
        for _, path, cls in module_stack(node):
            role = path.removeprefix(f"{call.path}.")
            if role in found and path != role:
                if cls not in _ACTIVATION_CLASSES:
                    raise Refused(f"its {role} {cls}, which no Keras activation name gives")
                found[role] = _ACTIVATION_CLASSES[cls]
    return found


def _boundary(r: Reading, call: ModuleCall) -> tuple[Any, Any]:
    """(the one input the call reads from outside, the one node read outside it)."""
    inside = set(call.nodes)
    reads = {a for n in call.nodes for a in n.all_input_nodes if a not in inside}
    inputs = [a for a in reads if not r.is_weight(a)]
    outputs = [n for n in call.nodes if any(u not in inside for u in n.users)]
    if len(inputs) != 1 or len(outputs) != 1:
        raise Refused("a recurrence of other than one input and one output")
    return inputs[0], outputs[0]


@MODULES.register("CustomRecurrent")
def read_step_by_step_recurrence(r: Reading, call: ModuleCall) -> None:
    """model.py's ``CustomRecurrent`` (written out step by step) → SimpleRNN, LSTM or GRU:
    units and gates from ``weight_hh_l0`` (rows = gates × units), ``bias_l0`` alone a GRU
    with ``reset_after: false``, ``num_layers`` from the stacked tensors, ``go_backwards``
    from a flip of time, the activations from its submodules; one direction only."""
    x, output = _boundary(r, call)
    tensors = {
        r.key(a).removeprefix(f"{call.path}."): a
        for n in call.nodes
        for a in n.all_input_nodes
        if r.is_weight(a)
    }
    if any(name.endswith("_reverse") for name in tensors) or "weight_hh_l0" not in tensors:
        raise Refused("a recurrence of two directions, or without weight_hh_l0")
    rows, units = Reading.shape(tensors["weight_hh_l0"])
    type_ = _CELL_TYPES.get(rows // units)
    if type_ is None:
        raise Refused(f"{rows // units} gates per unit, which no Keras recurrent layer has")
    values: dict[str, Any] = {"units": units, "use_bias": any("bias" in t for t in tensors)}
    values["num_layers"] = sum(name.startswith("weight_hh_l") for name in tensors)
    values["return_sequences"] = len(Reading.shape(output)) == 3
    values["go_backwards"] = any(op_name(n) == "flip" for n in call.nodes)
    values |= _step_activations(call)
    if type_ == "GRU":
        slices = [u for u in tensors["weight_hh_l0"].users if op_name(u) == "slice"]
        values["reset_after"] = "bias_l0" not in tensors and not slices
    r.add(call, {"type": type_, **written_args(type_, values)}, [x], output)
