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

import math
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from backends.torch.activation import make_activation
from backends.torch.model import BUILDERS
from translator.ir import Node
from translator.ops.recurrent import GATES, sequence_dims

State = tuple[torch.Tensor, ...]
# Turns (outputs of every step (batch, time, directions*units), final hidden states
# (directions, batch, units)) into what the layer returns.
Select = Callable[[torch.Tensor, torch.Tensor], Any]


def last_or_sequence(out: torch.Tensor, h_n: torch.Tensor, return_sequences: bool) -> torch.Tensor:
    """A one-direction layer's result: every step, or the last one."""
    return out if return_sequences else out[:, -1]


class KerasRecurrent(nn.Module):
    """Family base: ``go_backwards`` reverses the input first; ``scan`` runs the recurrence
    (here: the native torch RNN next in the MRO); ``select`` shapes the result."""

    go_backwards: bool
    select: Select

    def __init__(self, node: Node, bidirectional: bool, select: Select, **native: Any) -> None:
        _, features = sequence_dims(node)
        # super() is the native nn.RNN/nn.LSTM/nn.GRU next in the MRO of each variant below.
        super().__init__(
            features,
            node.args["units"],
            bias=node.args["use_bias"],
            batch_first=True,
            bidirectional=bidirectional,
            num_layers=node.args["num_layers"],
            **native,
        )
        self.configure(node, select)

    def configure(self, node: Node, select: Select) -> None:
        self.go_backwards = node.args["go_backwards"]
        self.select = select

    def forward(self, x: torch.Tensor) -> Any:
        if self.go_backwards:
            x = x.flip(1)
        out, h_n = self.scan(x)
        return self.select(out, h_n)

    def scan(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        out, h_n = super().forward(x)
        return out, h_n[0] if isinstance(h_n, tuple) else h_n  # LSTM: (h_n, c_n)


class SimpleRNN(KerasRecurrent, nn.RNN):
    """Keras SimpleRNN with tanh or relu, as ``nn.RNN`` (two bias vectors)."""

    def __init__(self, node: Node, bidirectional: bool, select: Select) -> None:
        super().__init__(node, bidirectional, select, nonlinearity=node.args["activation"])


class LSTM(KerasRecurrent, nn.LSTM):
    """Keras LSTM with tanh/sigmoid, as ``nn.LSTM`` (gates i, f, g, o = Keras's i, f, c, o)."""


class GRU(KerasRecurrent, nn.GRU):
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

Step = Callable[..., State]


def rnn_step(xp: torch.Tensor, state: State, w_hh: Any, b_hh: Any, act: Any, ract: Any) -> State:
    """SimpleRNN: ``h = act(x W + b + h R + b_r)``."""
    return (act(xp + F.linear(state[0], w_hh, b_hh)),)


def lstm_step(xp: torch.Tensor, state: State, w_hh: Any, b_hh: Any, act: Any, ract: Any) -> State:
    """LSTM in PyTorch's gate order i, f, g, o."""
    h, c = state
    i, f, g, o = (xp + F.linear(h, w_hh, b_hh)).chunk(4, dim=-1)
    c = ract(f) * c + ract(i) * act(g)
    return (ract(o) * act(c), c)


def gru_step(xp: torch.Tensor, state: State, w_hh: Any, b_hh: Any, act: Any, ract: Any) -> State:
    """GRU with the reset gate after the recurrent matmul, PyTorch's gate order r, z, n."""
    (h,) = state
    x_r, x_z, x_n = xp.chunk(3, dim=-1)
    h_r, h_z, h_n = F.linear(h, w_hh, b_hh).chunk(3, dim=-1)
    r, z = ract(x_r + h_r), ract(x_z + h_z)
    return (z * h + (1 - z) * act(x_n + r * h_n),)


def gru_reset_before_step(
    xp: torch.Tensor, state: State, w_hh: Any, b_hh: Any, act: Any, ract: Any
) -> State:
    """Keras's GRU with ``reset_after: false``, Keras's gate order z, r, h and one bias
    (already in ``xp``): ``h~ = act(x W_h + (r * h) R_h + b_h)``."""
    (h,) = state
    units = h.shape[-1]
    x_z, x_r, x_h = xp.chunk(3, dim=-1)
    h_z, h_r = F.linear(h, w_hh[: 2 * units]).chunk(2, dim=-1)
    z, r = ract(x_z + h_z), ract(x_r + h_r)
    candidate = act(x_h + F.linear(r * h, w_hh[2 * units :]))
    return (z * h + (1 - z) * candidate,)


@dataclass(frozen=True)
class Cell:
    """One recurrence for ``CustomRecurrent``: its step, how many state tensors it carries and
    the names of its bias vectors (the first is added to the input projection)."""

    step: Step
    states: int = 1
    biases: tuple[str, ...] = ("bias_ih", "bias_hh")


# (layer type, reset_after) → the cell; reset_after is True for the types that lack it.
CELLS: dict[tuple[str, bool], Cell] = {
    ("SimpleRNN", True): Cell(rnn_step),
    ("LSTM", True): Cell(lstm_step, states=2),
    ("GRU", True): Cell(gru_step),
    ("GRU", False): Cell(gru_reset_before_step, biases=("bias",)),
}


class CustomRecurrent(KerasRecurrent):
    """Custom module (not a ``torch.nn`` RNN) computing a Keras recurrence exactly, step by
    step, for what PyTorch has no native module for: Keras's reset-before GRU (parameters
    ``weight_ih_l0`` (3u, in), ``weight_hh_l0`` (3u, u), ``bias_l0`` (3u), gates z, r, h) and
    any activation other than tanh/sigmoid (same tensors and gate order as the native module),
    and a ``go_backwards`` stack. A second direction adds ``*_reverse`` copies, read and
    reported like ``bidirectional=True``; stacked layer i has the same tensors ``*_l{i}``
    (reading ``units`` features for i > 0), as in ``num_layers=N``.
    Initialized like PyTorch's RNNs: uniform in ±1/sqrt(units)."""

    def __init__(self, node: Node, bidirectional: bool, select: Select) -> None:
        nn.Module.__init__(self)
        a = node.args
        _, features = sequence_dims(node)
        rows, units = GATES[node.type] * a["units"], a["units"]
        self.cell = CELLS[(node.type, a.get("reset_after", True))]
        self.activation = make_activation(a["activation"])
        self.recurrent_activation = make_activation(a.get("recurrent_activation"))
        self.suffixes = ("", "_reverse") if bidirectional else ("",)
        self.num_layers = a["num_layers"]
        bound = 1.0 / math.sqrt(units)
        # PyTorch's order: layer by layer, each layer's directions together.
        for layer in range(self.num_layers):
            shapes = {"weight_ih": (rows, units if layer else features), "weight_hh": (rows, units)}
            if a["use_bias"]:
                shapes.update({name: (rows,) for name in self.cell.biases})
            for suffix in self.suffixes:
                for name, shape in shapes.items():
                    weight = nn.Parameter(torch.empty(shape).uniform_(-bound, bound))
                    self.register_parameter(f"{name}_l{layer}{suffix}", weight)
        self.configure(node, select)

    def scan(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        finals = []
        for layer in range(self.num_layers):
            if layer and self.go_backwards:
                # Chained Keras layers that all go backwards: each reverses what it reads
                # (forward() has reversed layer 0's input already).
                x = x.flip(1)
            x, last = self.run_layer(x, layer)
            finals.append(last)
        return x, torch.cat(finals)

    def run_layer(self, x: torch.Tensor, layer: int) -> tuple[torch.Tensor, torch.Tensor]:
        outputs, finals = [], []
        for index, suffix in enumerate(self.suffixes):
            # The reverse direction reads the sequence backwards and reports its outputs in
            # time order, exactly as PyTorch's bidirectional RNNs do.
            out = self.run_direction(x.flip(1) if index else x, f"l{layer}{suffix}")
            finals.append(out[:, -1])
            outputs.append(out.flip(1) if index else out)
        return torch.cat(outputs, dim=-1), torch.stack(finals)

    def run_direction(self, x: torch.Tensor, at: str) -> torch.Tensor:
        w_hh = self._parameters[f"weight_hh_{at}"]
        b_in = self._parameters.get(f"{self.cell.biases[0]}_{at}")
        b_hh = self._parameters.get(f"bias_hh_{at}")
        xp = F.linear(x, self._parameters[f"weight_ih_{at}"], b_in)
        state: State = (x.new_zeros(x.shape[0], w_hh.shape[1]),) * self.cell.states
        steps = []
        for t in range(x.shape[1]):
            state = self.cell.step(
                xp[:, t], state, w_hh, b_hh, self.activation, self.recurrent_activation
            )
            steps.append(state[0])
        return torch.stack(steps, dim=1)

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
