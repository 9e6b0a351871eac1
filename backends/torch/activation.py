"""Activations: Activation, ReLU, LeakyReLU, Softmax, ELU, PReLU, and the activation-by-name
table that Dense, the convolutions and the recurrent layers share.

Every function computes what Keras computes: ``gelu`` is the exact (erf) form,
``hard_sigmoid`` is ``relu6(x + 3) / 6``, ``leaky_relu`` by name uses Keras's slope 0.2 and
``softmax``/``log_softmax`` work over the last axis.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import nn

from backends.torch.model import BUILDERS
from translator.ir import Node
from translator.ops.activation import prelu_alpha_shape

# Activation name (translator.schema.ACTIVATIONS) → a factory of a parameterless module.
ACTIVATIONS: dict[str, Callable[[], nn.Module]] = {
    "elu": nn.ELU,
    "gelu": nn.GELU,  # approximate="none": the exact erf form, Keras's default
    "hard_sigmoid": nn.Hardsigmoid,  # relu6(x + 3) / 6, as Keras 3 defines it
    "leaky_relu": lambda: nn.LeakyReLU(0.2),  # keras.activations.leaky_relu's default slope
    "linear": nn.Identity,
    "log_softmax": lambda: nn.LogSoftmax(dim=-1),
    "relu": nn.ReLU,
    "relu6": nn.ReLU6,
    "selu": nn.SELU,
    "sigmoid": nn.Sigmoid,
    "silu": nn.SiLU,
    "softmax": lambda: nn.Softmax(dim=-1),
    "softplus": nn.Softplus,
    "softsign": nn.Softsign,
    "swish": nn.SiLU,
    "tanh": nn.Tanh,
}


def make_activation(name: str | None) -> nn.Module:
    """The activation module for a spec activation name (``None`` is linear)."""
    return ACTIVATIONS["linear" if name is None else name]()


class ReLU(nn.Module):
    """Keras's ReLU: ``x`` above ``threshold`` (else 0), clipped to ``[0, max_value]``, minus
    ``negative_slope * relu(threshold - x)``. Written once in the general form, which reduces
    to leaky ReLU when there is no threshold and no cap."""

    def __init__(self, max_value: float | None, negative_slope: float, threshold: float) -> None:
        super().__init__()
        self.max_value = max_value
        self.negative_slope = negative_slope
        self.threshold = threshold

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.threshold == 0:
            y = torch.relu(x)
        else:
            # Keras keeps x where x > threshold, so with a negative threshold small negative
            # values survive (and are clipped to 0 only when max_value is set).
            y = torch.where(x > self.threshold, x, torch.zeros_like(x))
        if self.max_value is not None:
            y = y.clamp(0.0, self.max_value)
        if self.negative_slope:
            y = y - self.negative_slope * torch.relu(self.threshold - x)
        return y

    def extra_repr(self) -> str:
        return f"max_value={self.max_value}, negative_slope={self.negative_slope}, threshold={self.threshold}"


class Softmax(nn.Module):
    """Softmax over one axis or jointly over several (``axis`` counts the batch axis as 0)."""

    def __init__(self, axis: int | tuple[int, ...]) -> None:
        super().__init__()
        self.axes = axis if isinstance(axis, tuple) else (axis,)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if len(self.axes) == 1:
            return torch.softmax(x, dim=self.axes[0])
        # Keras's multi-axis form: exp(x - logsumexp(x)) over all the axes at once.
        return torch.exp(x - torch.logsumexp(x, dim=self.axes, keepdim=True))


class PReLU(nn.Module):
    """Keras PReLU: ``relu(x) - weight * relu(-x)`` with one slope per input element, the
    axes in ``shared_axes`` sharing theirs (``weight`` has the input's shape with those axes
    set to 1, and broadcasts). ``nn.PReLU`` holds one slope or one per channel only, so this is
    a custom module; its slopes start at ``nn.PReLU``'s 0.25."""

    def __init__(self, shape: tuple[int, ...]) -> None:
        super().__init__()
        self.weight = nn.Parameter(torch.full(shape, 0.25))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        # Written as Keras writes it: pos + neg, with neg = -alpha * relu(-x).
        return torch.relu(x) + (-self.weight) * torch.relu(-x)


@BUILDERS.register("Activation")
def build_activation(node: Node) -> nn.Module:
    """Activation(activation) → the torch module of that function."""
    return make_activation(node.args["activation"])


@BUILDERS.register("ReLU")
def build_relu(node: Node) -> nn.Module:
    """ReLU(max_value=None, negative_slope=0.0, threshold=0.0) → ``ReLU``."""
    a = node.args
    return ReLU(a["max_value"], a["negative_slope"], a["threshold"])


@BUILDERS.register("LeakyReLU")
def build_leaky_relu(node: Node) -> nn.Module:
    """LeakyReLU(negative_slope=0.3) → ``nn.LeakyReLU`` with the spec's slope."""
    return nn.LeakyReLU(node.args["negative_slope"])


@BUILDERS.register("Softmax")
def build_softmax(node: Node) -> nn.Module:
    """Softmax(axis=-1) → ``Softmax``."""
    return Softmax(node.args["axis"])


@BUILDERS.register("ELU")
def build_elu(node: Node) -> nn.Module:
    """ELU(alpha=1.0) → ``nn.ELU`` with the spec's alpha."""
    return nn.ELU(node.args["alpha"])


@BUILDERS.register("PReLU")
def build_prelu(node: Node) -> nn.Module:
    """PReLU(shared_axes=None) → ``PReLU``."""
    return PReLU(prelu_alpha_shape(node))
