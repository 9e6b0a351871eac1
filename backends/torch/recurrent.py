"""Recurrent layers: SimpleRNN, LSTM, GRU, with Keras's semantics.

Native ``nn.RNN``/``nn.LSTM``/``nn.GRU`` are used whenever they compute what Keras computes
(tanh/sigmoid, or relu for SimpleRNN; GRU with ``reset_after: true``). Everything else —
other activations, and Keras's reset-before GRU, which PyTorch does not have — runs in
``CustomRecurrent``, an exact step-by-step module that keeps PyTorch's tensor names.

Keras semantics kept here: ``go_backwards`` reverses the input and returns outputs in
processing order; ``return_sequences: false`` returns the last step. ``Bidirectional``
(wrappers.py) builds the same modules with two directions and its own ``select``.

``num_layers: N`` is PyTorch's stack (tensors ``weight_ih_l{i}``, ...), with the semantics of N
chained Keras layers: each returns its whole sequence to the next, the last one applies
``return_sequences``. With ``go_backwards`` every layer of the chain goes backwards, i.e. each
reverses the sequence it reads (so layer 1 reads layer 0's outputs back in time order); a
native stack would reverse only the first input, so that case runs in ``CustomRecurrent``.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import partial
from typing import Any

import torch
from torch import nn

from backends.torch.model import BUILDERS
from backends.torch.standalone import recurrent as standalone
from translator.ir import Node
from translator.ops.recurrent import GATES, sequence_dims

# Turns (outputs of every step (batch, time, directions*units), final hidden states
# (directions, batch, units)) into what the layer returns.
Select = Callable[[torch.Tensor, torch.Tensor], Any]
# Layer type → the name of its ``CustomRecurrent`` cell (reset-before GRU: see ``cell_name``).
CELLS = {"SimpleRNN": "simple_rnn", "LSTM": "lstm", "GRU": "gru"}


def last_or_sequence(out: torch.Tensor, h_n: torch.Tensor, return_sequences: bool) -> torch.Tensor:
    """A one-direction layer's result: every step, or the last one."""
    return out if return_sequences else out[:, -1]


def cell_name(node: Node) -> str:
    """The standalone ``CustomRecurrent`` cell computing ``node``'s recurrence."""
    return "gru_reset_before" if not node.args.get("reset_after", True) else CELLS[node.type]


def options(node: Node, bidirectional: bool) -> dict[str, Any]:
    """The standalone modules' keyword arguments that every variant shares."""
    a = node.args
    names = ("use_bias", "go_backwards", "num_layers")
    return {"bidirectional": bidirectional, **{name: a[name] for name in names}}


class KerasRecurrent(standalone.KerasRecurrent):
    """Family base: the standalone module (``go_backwards`` reverses the input first,
    ``scan`` runs the recurrence) built from an IR node, whose ``select`` shapes the result."""

    select: Select

    def forward(self, x: torch.Tensor) -> Any:
        if self.go_backwards:
            x = x.flip(1)
        return self.select(*self.scan(x))


class NativeRecurrent(KerasRecurrent):
    """Base of the native variants: the standalone native module next in the MRO."""

    def __init__(self, node: Node, bidirectional: bool, select: Select) -> None:
        _, features = sequence_dims(node)
        simple = {"activation": node.args["activation"]} if node.type == "SimpleRNN" else {}
        super().__init__(features, node.args["units"], **simple, **options(node, bidirectional))
        self.select = select


class SimpleRNN(NativeRecurrent, standalone.SimpleRNN):
    """Keras SimpleRNN with tanh or relu, as ``nn.RNN`` (two bias vectors)."""


class LSTM(NativeRecurrent, standalone.LSTM):
    """Keras LSTM with tanh/sigmoid, as ``nn.LSTM`` (gates i, f, g, o = Keras's i, f, c, o)."""


class GRU(NativeRecurrent, standalone.GRU):
    """Keras GRU with ``reset_after: true`` and tanh/sigmoid, as ``nn.GRU`` (gates r, z, n;
    Keras's are z, r, h)."""


# Layer type → (native module, the argument values it can compute exactly).
NATIVE: dict[str, tuple[type[KerasRecurrent], dict[str, tuple[Any, ...]]]] = {
    "SimpleRNN": (SimpleRNN, {"activation": ("tanh", "relu")}),
    "LSTM": (LSTM, {"activation": ("tanh",), "recurrent_activation": ("sigmoid",)}),
    "GRU": (
        GRU,
        {"activation": ("tanh",), "recurrent_activation": ("sigmoid",), "reset_after": (True,)},
    ),
}


class CustomRecurrent(KerasRecurrent, standalone.CustomRecurrent):
    """The standalone step-by-step module (not a ``torch.nn`` RNN) computing a Keras
    recurrence exactly, for what PyTorch has no native module for: Keras's reset-before GRU
    (parameters ``weight_ih_l0`` (3u, in), ``weight_hh_l0`` (3u, u), ``bias_l0`` (3u), gates
    z, r, h), any activation other than tanh/sigmoid (same tensors and gate order as the
    native module), and a ``go_backwards`` stack. A second direction adds ``*_reverse``
    copies, read and reported like ``bidirectional=True``; stacked layer i has the same
    tensors ``*_l{i}``, as in ``num_layers=N``. Initialized like PyTorch's RNNs."""

    def __init__(self, node: Node, bidirectional: bool, select: Select) -> None:
        a = node.args
        _, features = sequence_dims(node)
        activations = a["activation"], a.get("recurrent_activation")
        more = options(node, bidirectional)
        super().__init__(cell_name(node), features, a["units"], *activations, **more)
        self.select = select

    def extra_repr(self) -> str:
        return (
            f"cell={self.cell.step.__name__}, directions={len(self.suffixes)}, "
            f"num_layers={self.num_layers}"
        )


def native_is_exact(node: Node) -> bool:
    """Whether the native module computes what the Keras layer (or chain of layers) does."""
    _, exact = NATIVE[node.type]
    if node.args["go_backwards"] and node.args["num_layers"] > 1:
        return False  # a native stack reverses only its input, not between layers
    return all(node.args[name] in values for name, values in exact.items())


def make_recurrent(node: Node, bidirectional: bool, select: Select) -> nn.Module:
    """The native module when it computes exactly what Keras does, else ``CustomRecurrent``."""
    if native_is_exact(node):
        return NATIVE[node.type][0](node, bidirectional, select)
    return CustomRecurrent(node, bidirectional, select)


@BUILDERS.register(*GATES)
def build_recurrent(node: Node) -> nn.Module:
    """SimpleRNN/LSTM/GRU(units, activation=tanh, [recurrent_activation=sigmoid,
    reset_after=True,] use_bias=True, return_sequences=False, go_backwards=False,
    num_layers=1)."""
    select = partial(last_or_sequence, return_sequences=node.args["return_sequences"])
    return make_recurrent(node, False, select)
