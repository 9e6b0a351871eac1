"""Standalone PyTorch layers with Keras's semantics: activations, core (the tied Dense too),
reshaping, merging, rescaling and TimeDistributed.

Every class mirrors the PyTorch backend's module for the same spec layer type (same
arithmetic, same tensor names, the spec's tensor layout between layers), built from plain
arguments named as in the spec. Export copies the definitions a model needs into its
``model.py``; see ``backends/torch/standalone/__init__.py`` for the rules this file keeps.
"""

from __future__ import annotations

import math
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

# Activation name → the torch.nn class (as ``model.py`` names it) and its arguments,
# computing what Keras computes:
# gelu is the exact (erf) form, gelu_tanh its tanh approximation, hard_sigmoid is
# relu6(x + 3) / 6, hard_swish (hard_silu) x * relu6(x + 3) / 6, leaky_relu by name has
# Keras's slope 0.2, softmax and log_softmax work over the last axis.
ACTIVATIONS: dict[str, tuple[str, dict[str, Any]]] = {
    "elu": ("nn.ELU", {}),
    "gelu": ("nn.GELU", {}),
    "gelu_tanh": ("nn.GELU", {"approximate": "tanh"}),
    "hard_sigmoid": ("nn.Hardsigmoid", {}),
    "hard_silu": ("nn.Hardswish", {}),
    "hard_swish": ("nn.Hardswish", {}),
    "leaky_relu": ("nn.LeakyReLU", {"negative_slope": 0.2}),
    "linear": ("nn.Identity", {}),
    "log_softmax": ("nn.LogSoftmax", {"dim": -1}),
    "mish": ("nn.Mish", {}),
    "relu": ("nn.ReLU", {}),
    "relu6": ("nn.ReLU6", {}),
    "selu": ("nn.SELU", {}),
    "sigmoid": ("nn.Sigmoid", {}),
    "silu": ("nn.SiLU", {}),
    "softmax": ("nn.Softmax", {"dim": -1}),
    "softplus": ("nn.Softplus", {}),
    "softsign": ("nn.Softsign", {}),
    "swish": ("nn.SiLU", {}),
    "tanh": ("nn.Tanh", {}),
}


def make_activation(name: str | None) -> nn.Module:
    """The module of a Keras activation name (``None`` is linear)."""
    cls, kwargs = ACTIVATIONS["linear" if name is None else name]
    module: nn.Module = getattr(nn, cls.removeprefix("nn."))(**kwargs)
    return module


def outputs_of(value: Any) -> tuple[torch.Tensor, ...]:
    """A layer's result as a tuple (a Bidirectional without merge returns two tensors)."""
    return value if isinstance(value, tuple) else (value,)


class Dense(nn.Linear):
    """Keras Dense: ``activation(x @ weight.T + bias)`` on the last axis of any-rank input.
    The kernel is stored transposed, (units, in), as ``nn.Linear`` stores it."""

    def __init__(
        self, in_features: int, units: int, activation: str | None = None, use_bias: bool = True
    ) -> None:
        super().__init__(in_features, units, bias=use_bias)
        self.activation = make_activation(activation)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.activation(super().forward(x))


class TiedDense(nn.Module):
    """A Keras Dense tied to an Embedding: ``activation(x @ E.T + bias)``. ``E`` (vocabulary,
    features) is the Embedding's ``weight``, which the network passes at every call, so it
    is stored once, under the Embedding; this module holds only its bias, initialized as
    ``nn.Linear`` initializes its own."""

    bias: torch.Tensor | None

    def __init__(
        self, in_features: int, units: int, activation: str | None = None, use_bias: bool = True
    ) -> None:
        super().__init__()
        bound = 1.0 / math.sqrt(in_features)
        bias = nn.Parameter(torch.empty(units).uniform_(-bound, bound)) if use_bias else None
        self.register_parameter("bias", bias)
        self.activation = make_activation(activation)

    def forward(self, x: torch.Tensor, embeddings: torch.Tensor) -> torch.Tensor:
        return self.activation(F.linear(x, embeddings, self.bias))


class Embedding(nn.Embedding):
    """Keras Embedding: ``weight[ids]``; ids may arrive as int32 or int64."""

    def forward(self, ids: torch.Tensor) -> torch.Tensor:
        return super().forward(ids.long())


class BroadcastDropout(nn.Module):
    """Keras Dropout with ``noise_shape``: one keep-or-drop draw per position of the noise
    shape (-1: the input's size), broadcast over its axes of size 1, so ``[-1, 1, 1, 1]``
    drops whole examples (stochastic depth); the identity in eval mode."""

    def __init__(self, rate: float, noise_shape: list[int]) -> None:
        super().__init__()
        self.rate = rate
        self.noise_shape = noise_shape

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not self.training or self.rate == 0.0:
            return x
        shape = [x.shape[i] if n < 0 else n for i, n in enumerate(self.noise_shape)]
        keep = torch.empty(shape, dtype=x.dtype, device=x.device).bernoulli_(1.0 - self.rate)
        return x * keep / (1.0 - self.rate)


class ClassToken(nn.Module):
    """ViT's [CLS] token: one learned ``token`` (1, 1, features) joined in front of every
    sequence (Hugging Face's ViT holds it as ``cls_token``)."""

    def __init__(self, features: int) -> None:
        super().__init__()
        self.token = nn.Parameter(torch.zeros(1, 1, features))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.cat([self.token.expand(x.shape[0], -1, -1), x], dim=1)


class ScaleOffset(nn.Module):
    """Keras Rescaling: ``x * scale + offset``, two constants (no weights)."""

    def __init__(self, scale: float, offset: float = 0.0) -> None:
        super().__init__()
        self.scale = scale
        self.offset = offset

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x * self.scale + self.offset


class ReLU(nn.Module):
    """Keras ReLU: ``x`` above ``threshold`` (else 0), capped at ``max_value``, minus
    ``negative_slope * relu(threshold - x)``."""

    def __init__(
        self, max_value: float | None = None, negative_slope: float = 0.0, threshold: float = 0.0
    ) -> None:
        super().__init__()
        self.max_value = max_value
        self.negative_slope = negative_slope
        self.threshold = threshold

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.threshold == 0:
            y = torch.relu(x)
        else:
            y = torch.where(x > self.threshold, x, torch.zeros_like(x))
        if self.max_value is not None:
            y = y.clamp(0.0, self.max_value)
        if self.negative_slope:
            y = y - self.negative_slope * torch.relu(self.threshold - x)
        return y


class PReLU(nn.Module):
    """Keras PReLU: ``relu(x) - weight * relu(-x)``, one slope per input element, the axes in
    ``shared_axes`` sharing theirs (``weight`` has size 1 there, and broadcasts)."""

    def __init__(self, shape: tuple[int, ...]) -> None:
        super().__init__()
        self.weight = nn.Parameter(torch.full(shape, 0.25))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        # Written as Keras writes it: pos + neg, with neg = -alpha * relu(-x).
        return torch.relu(x) + (-self.weight) * torch.relu(-x)


class Softmax(nn.Module):
    """Softmax over one axis or jointly over several (the batch axis is 0)."""

    def __init__(self, axis: int | tuple[int, ...] = -1) -> None:
        super().__init__()
        self.axes = axis if isinstance(axis, tuple) else (axis,)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if len(self.axes) == 1:
            return torch.softmax(x, dim=self.axes[0])
        # Keras's multi-axis form: exp(x - logsumexp(x)) over all the axes at once.
        return torch.exp(x - torch.logsumexp(x, dim=self.axes, keepdim=True))


class Flatten(nn.Module):
    """Each example to one axis, in row-major order of the spec's layout (Keras's order)."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x.reshape(x.shape[0], -1)


class Reshape(nn.Module):
    """Each example to ``target_shape`` (one size may be -1)."""

    def __init__(self, target_shape: tuple[int, ...]) -> None:
        super().__init__()
        self.target_shape = target_shape

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x.reshape(x.shape[0], *self.target_shape)


class Permute(nn.Module):
    """Permutes the non-batch axes; ``dims`` counts from 1, as in Keras."""

    def __init__(self, dims: tuple[int, ...]) -> None:
        super().__init__()
        self.dims = (0, *dims)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x.permute(self.dims)


def fold(step: Any, inputs: tuple[torch.Tensor, ...]) -> torch.Tensor:
    """``step`` applied left to right over the inputs, as Keras's merge layers apply it."""
    out = inputs[0]
    for x in inputs[1:]:
        out = step(out, x)
    return out


# Element-wise merge → its function (average divides the running sum by the number of
# inputs at the end, as Keras does).
ELEMENTWISE: dict[str, Any] = {
    "multiply": lambda *inputs: fold(torch.mul, inputs),
    "subtract": lambda *inputs: fold(torch.sub, inputs),
    "average": lambda *inputs: fold(torch.add, inputs) / len(inputs),
    "maximum": lambda *inputs: fold(torch.maximum, inputs),
    "minimum": lambda *inputs: fold(torch.minimum, inputs),
}


class Add(nn.Module):
    """Element-wise sum of two or more inputs, left to right as Keras adds them; they
    broadcast (per axis one size, or 1)."""

    def forward(self, *inputs: torch.Tensor) -> torch.Tensor:
        return fold(torch.add, inputs)


class Elementwise(nn.Module):
    """One of ``ELEMENTWISE`` (multiply, subtract, average, maximum, minimum) over two or more
    inputs, which broadcast (per axis one size, or 1)."""

    def __init__(self, kind: str) -> None:
        super().__init__()
        self.merge = ELEMENTWISE[kind]

    def forward(self, *inputs: torch.Tensor) -> torch.Tensor:
        return self.merge(*inputs)


class Concatenate(nn.Module):
    """Joins inputs along ``axis`` (the batch axis is 0)."""

    def __init__(self, axis: int = -1) -> None:
        super().__init__()
        self.axis = axis

    def forward(self, *inputs: torch.Tensor) -> torch.Tensor:
        return torch.cat(inputs, dim=self.axis)


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
