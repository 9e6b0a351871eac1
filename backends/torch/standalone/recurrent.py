"""Standalone PyTorch recurrent layers with Keras's semantics: SimpleRNN, LSTM and GRU, in
one direction or two (Keras's Bidirectional).

As in the PyTorch backend (``backends/torch/recurrent.py`` and ``wrappers.py``): the native
``nn.RNN``/``nn.LSTM``/``nn.GRU`` wherever they compute what Keras computes, else
``CustomRecurrent``, an exact step-by-step module with the same tensor names (and Keras's
single bias for the reset-before GRU, which PyTorch does not have). ``go_backwards`` reverses
the input; without ``return_sequences`` the last step is returned; two directions merge as
Keras merges them. ``num_layers`` stacks layers as PyTorch does (tensors ``*_l{i}``), with
the semantics of that many chained Keras layers: with ``go_backwards`` each layer reverses
the sequence it reads, which only ``CustomRecurrent`` does. Export copies what a model needs
into its ``model.py``.
"""

from __future__ import annotations

import math
from typing import Any, NamedTuple, cast

import torch
import torch.nn.functional as F
from torch import nn

from backends.torch.standalone.layers import make_activation

State = tuple[torch.Tensor, ...]

# Keras's merge modes of two directions; None keeps them as two outputs.
MERGES: dict[str | None, Any] = {
    "concat": lambda forward, backward: torch.cat((forward, backward), dim=-1),
    "sum": torch.add,
    "mul": torch.mul,
    "ave": lambda forward, backward: (forward + backward) / 2,
    None: lambda forward, backward: (forward, backward),
}


def merge_directions(
    out: torch.Tensor, h_n: torch.Tensor, mode: str | None, return_sequences: bool
) -> Any:
    """Split a two-direction result and merge it the Keras way."""
    units = h_n.shape[-1]
    if return_sequences:
        forward, backward = out[..., :units], out[..., units:]
    else:
        # The backward direction's last output in time order is its first step; Keras
        # returns its final state, which is h_n.
        forward, backward = out[:, -1, :units], h_n[1]
    return MERGES[mode](forward, backward)


class KerasRecurrent(nn.Module):
    """Family base: ``go_backwards`` reverses the input first; ``scan`` runs the recurrence
    (for the native variants: the torch RNN next in the MRO); the result is shaped as Keras
    shapes it."""

    def configure(
        self, return_sequences: bool, go_backwards: bool, bidirectional: bool, merge_mode: Any
    ) -> None:
        self.return_sequences = return_sequences
        self.go_backwards = go_backwards
        self.directions = 2 if bidirectional else 1
        self.merge_mode = merge_mode

    def forward(self, x: torch.Tensor) -> Any:
        if self.go_backwards:
            x = x.flip(1)
        out, h_n = self.scan(x)
        if self.directions == 2:
            return merge_directions(out, h_n, self.merge_mode, self.return_sequences)
        return out if self.return_sequences else out[:, -1]

    def scan(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        out, h_n = super().forward(x)
        return out, h_n[0] if isinstance(h_n, tuple) else h_n  # LSTM: (h_n, c_n)


class NativeRecurrent(KerasRecurrent):
    """Base of the native variants: batch first, ``bidirectional=True`` for Keras's
    Bidirectional (the second direction's tensors end in ``_reverse``)."""

    def __init__(
        self,
        input_size: int,
        units: int,
        use_bias: bool = True,
        return_sequences: bool = False,
        go_backwards: bool = False,
        bidirectional: bool = False,
        merge_mode: str | None = "concat",
        num_layers: int = 1,
        **native: Any,
    ) -> None:
        # super() is the native nn.RNN/nn.LSTM/nn.GRU next in the MRO of each variant below.
        super().__init__(
            input_size,
            units,
            num_layers=num_layers,
            bias=use_bias,
            batch_first=True,
            bidirectional=bidirectional,
            **native,
        )
        self.configure(return_sequences, go_backwards, bidirectional, merge_mode)


class SimpleRNN(NativeRecurrent, nn.RNN):  # type: ignore[misc]  # Keras's forward(x), no hx
    """Keras SimpleRNN with tanh or relu, as ``nn.RNN`` (two bias vectors)."""

    def __init__(self, input_size: int, units: int, activation: str = "tanh", **options: Any):
        super().__init__(input_size, units, nonlinearity=activation, **options)


class LSTM(NativeRecurrent, nn.LSTM):  # type: ignore[misc]  # Keras's forward(x), no hx
    """Keras LSTM with tanh/sigmoid, as ``nn.LSTM`` (gates i, f, g, o = Keras's i, f, c, o)."""


class GRU(NativeRecurrent, nn.GRU):  # type: ignore[misc]  # Keras's forward(x), no hx
    """Keras GRU with ``reset_after: true`` and tanh/sigmoid, as ``nn.GRU`` (gates r, z, n;
    Keras's are z, r, h)."""


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


class Cell(NamedTuple):
    """One recurrence of ``CustomRecurrent``: its step, its gate count, how many state
    tensors it carries, and its bias vectors (the first is added to the input projection)."""

    step: Any
    gates: int
    states: int = 1
    biases: tuple[str, ...] = ("bias_ih", "bias_hh")


CELLS: dict[str, Cell] = {
    "simple_rnn": Cell(rnn_step, 1),
    "lstm": Cell(lstm_step, 4, states=2),
    "gru": Cell(gru_step, 3),
    "gru_reset_before": Cell(gru_reset_before_step, 3, biases=("bias",)),
}


class CustomRecurrent(KerasRecurrent):
    """A Keras recurrence computed step by step, for what PyTorch has no native module for:
    Keras's reset-before GRU (``weight_ih_l0`` (3u, in), ``weight_hh_l0`` (3u, u),
    ``bias_l0`` (3u), gates z, r, h), activations other than tanh/sigmoid (the native
    module's tensors and gate order) and a stack going backwards. A second direction adds
    ``*_reverse`` copies; stacked layer i has the same tensors ``*_l{i}``, reading ``units``
    features for i > 0."""

    def __init__(
        self,
        cell: str,
        input_size: int,
        units: int,
        activation: str | None = "tanh",
        recurrent_activation: str | None = None,
        use_bias: bool = True,
        return_sequences: bool = False,
        go_backwards: bool = False,
        bidirectional: bool = False,
        merge_mode: str | None = "concat",
        num_layers: int = 1,
    ) -> None:
        super().__init__()
        self.cell = CELLS[cell]
        self.activation = make_activation(activation)
        self.recurrent_activation = make_activation(recurrent_activation)
        self.suffixes = ("", "_reverse") if bidirectional else ("",)
        self.num_layers = num_layers
        # PyTorch's order: layer by layer, each layer's directions together.
        for layer in range(num_layers):
            self.add_layer(layer, units if layer else input_size, units, use_bias)
        self.configure(return_sequences, go_backwards, bidirectional, merge_mode)

    def add_layer(self, layer: int, features: int, units: int, use_bias: bool) -> None:
        """Stacked layer ``layer``'s tensors, every direction, initialized like PyTorch's
        RNNs: uniform in +-1/sqrt(units)."""
        rows, bound = self.cell.gates * units, 1.0 / math.sqrt(units)
        shapes: dict[str, tuple[int, ...]] = {
            "weight_ih": (rows, features),
            "weight_hh": (rows, units),
        }
        if use_bias:
            shapes.update({name: (rows,) for name in self.cell.biases})
        for suffix in self.suffixes:
            for name, shape in shapes.items():
                weight = nn.Parameter(torch.empty(shape).uniform_(-bound, bound))
                self.register_parameter(f"{name}_l{layer}{suffix}", weight)

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
            # time order, as PyTorch's bidirectional RNNs do.
            out = self.run_direction(x.flip(1) if index else x, f"l{layer}{suffix}")
            finals.append(out[:, -1])
            outputs.append(out.flip(1) if index else out)
        return torch.cat(outputs, dim=-1), torch.stack(finals)

    def run_direction(self, x: torch.Tensor, at: str) -> torch.Tensor:
        # Registered by add_layer, never as None.
        w_ih = cast(torch.Tensor, self._parameters[f"weight_ih_{at}"])
        w_hh = cast(torch.Tensor, self._parameters[f"weight_hh_{at}"])
        b_in = self._parameters.get(f"{self.cell.biases[0]}_{at}")
        b_hh = self._parameters.get(f"bias_hh_{at}")
        xp = F.linear(x, w_ih, b_in)
        state: State = (x.new_zeros(x.shape[0], w_hh.shape[1]),) * self.cell.states
        steps = []
        for t in range(x.shape[1]):
            state = self.cell.step(
                xp[:, t], state, w_hh, b_hh, self.activation, self.recurrent_activation
            )
            steps.append(state[0])
        return torch.stack(steps, dim=1)
