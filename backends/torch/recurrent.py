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

from backends.torch.model import describes
from backends.torch.standalone.assemble import Call, Description, Steps, call
from backends.torch.standalone.describe import arguments
from translator.ir import Node
from translator.ops.recurrent import GATES, sequence_dims

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
    output sequence or last step, when exact and reading forwards; going backwards,
    ``SimpleRNN``/``LSTM``/``GRU`` (the native module after a flip); else
    ``CustomRecurrent``."""
    a = node.args
    if not native_is_exact(node) or a["go_backwards"]:
        return recurrent_call(node, native_is_exact(node))
    return Steps(torch_module(node), take="sequence" if a["return_sequences"] else "last")


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
