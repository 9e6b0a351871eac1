"""Wrappers: TimeDistributed and Bidirectional.

TimeDistributed keeps the wrapped module as ``.layer`` (so its tensors are ``layer.weight``,
...). Bidirectional is PyTorch's own two-direction RNN (tensors ``*_reverse``) — or the
two-direction ``CustomRecurrent`` where no native module is exact — merged as Keras merges:
the backward sequence in time order, and without ``return_sequences`` the forward direction's
last step and the backward direction's final state. A wrapped layer with ``go_backwards: true``
reverses the input of both directions (tf.keras 2's rule, backward = not go_backwards; Keras 3
refuses to build that configuration at all).
"""

from __future__ import annotations

from functools import partial
from typing import Any

import torch
from torch import nn

from backends.torch.model import BUILDERS, outputs_of
from backends.torch.recurrent import make_recurrent
from translator.ir import Node


class TimeDistributed(nn.Module):
    """Applies ``layer`` to every time step (axis 1) by folding time into the batch."""

    def __init__(self, layer: nn.Module) -> None:
        super().__init__()
        self.layer = layer

    def forward(self, x: torch.Tensor) -> Any:
        batch, steps = x.shape[:2]
        y = self.layer(x.reshape(batch * steps, *x.shape[2:]))
        out = tuple(t.reshape(batch, steps, *t.shape[1:]) for t in outputs_of(y))
        return out if len(out) > 1 else out[0]


# Keras's merge modes; None keeps the two directions as two outputs.
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


@BUILDERS.register("TimeDistributed")
def build_time_distributed(node: Node) -> nn.Module:
    """TimeDistributed(layer) → ``TimeDistributed`` holding the wrapped layer's module."""
    inner = node.inner
    if inner is None:  # the loader guarantees a wrapped layer; this is a translator bug
        raise TypeError(f"{node.name}: TimeDistributed without a wrapped layer")
    return TimeDistributed(BUILDERS[inner.type](inner))


@BUILDERS.register("Bidirectional")
def build_bidirectional(node: Node) -> nn.Module:
    """Bidirectional(layer: SimpleRNN|LSTM|GRU, merge_mode=concat|sum|mul|ave|null)
    → the wrapped RNN with ``bidirectional=True``."""
    inner = node.inner
    if inner is None:  # the loader guarantees a wrapped layer; this is a translator bug
        raise TypeError(f"{node.name}: Bidirectional without a wrapped layer")
    select = partial(
        merge_directions,
        mode=node.args["merge_mode"],
        return_sequences=inner.args["return_sequences"],
    )
    return make_recurrent(inner, True, select)
