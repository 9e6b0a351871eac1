"""Core layers: Input, Dense, Dropout, Embedding.

Each layer subclasses the native torch module so its tensors keep PyTorch's own names
(``weight``, ``bias``); an activation is a parameterless child module. A Dense tied to an
Embedding (``tie: wte``) is the custom ``TiedDense``, which owns only its bias. ``Dense``
and ``Embedding`` are the standalone modules (``backends/torch/standalone/layers.py``) that
``export`` copies into ``model.py``.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from backends.torch.activation import make_activation
from backends.torch.model import BUILDERS, Linked
from backends.torch.standalone.emitters import arguments
from backends.torch.standalone.layers import Dense, Embedding
from translator.ir import Node


class Input(nn.Module):
    """A model input: passes the tensor through (it has no weights, but every IR node gets a
    module so that measurement covers every node)."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x


class TiedDense(Linked):
    """Custom module (not ``nn.Linear``): a Keras Dense whose kernel is the tied Embedding's
    matrix transposed, ``activation(x @ E.T + bias)``. ``E`` (vocabulary, features) is already
    the (out, in) layout ``F.linear`` takes. The Embedding's ``weight`` is read at every call
    through the unregistered link, so it stays stored and counted once, in the Embedding; the
    bias (if any) is initialized like ``nn.Linear``'s."""

    def __init__(self, node: Node) -> None:
        super().__init__(node.args["tie"])
        units, features = node.args["units"], node.input_shape[-1]
        bias = None
        if node.args["use_bias"]:
            bound = 1.0 / math.sqrt(features)
            bias = nn.Parameter(torch.empty(units).uniform_(-bound, bound))
        self.register_parameter("bias", bias)
        self.activation = make_activation(node.args["activation"])

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.activation(F.linear(x, self.linked.weight, self.bias))


@BUILDERS.register("Input")
def build_input(node: Node) -> nn.Module:
    """Input(shape, dtype=float32) → ``Input`` (identity)."""
    return Input()


@BUILDERS.register("Dense")
def build_dense(node: Node) -> nn.Module:
    """Dense(units, activation=None, use_bias=True, tie=None) → ``Dense`` (an ``nn.Linear``),
    or ``TiedDense`` when tied to an Embedding."""
    if node.args["tie"] is not None:
        return TiedDense(node)
    return Dense(node.input_shape[-1], **arguments(node, "units", "activation", "use_bias"))


@BUILDERS.register("Dropout")
def build_dropout(node: Node) -> nn.Module:
    """Dropout(rate, seed=0) → ``nn.Dropout`` (the identity in eval mode, as in Keras)."""
    return nn.Dropout(node.args["rate"])


@BUILDERS.register("Embedding")
def build_embedding(node: Node) -> nn.Module:
    """Embedding(input_dim, output_dim) → ``Embedding`` (an ``nn.Embedding``)."""
    return Embedding(node.args["input_dim"], node.args["output_dim"])
