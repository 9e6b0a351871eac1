"""Activations: the name → Keras function table, and Activation, ReLU, LeakyReLU, Softmax,
ELU and PReLU.

Keras's own functions are the reference semantics: ``gelu`` is the exact (erf) form,
``gelu_tanh`` its tanh approximation, ``hard_sigmoid`` is ``relu6(x + 3) / 6``, ``hard_swish``
(``hard_silu``) is ``x * relu6(x + 3) / 6``, ``mish`` is ``x * tanh(softplus(x))``, ``swish`` is ``silu``, ``leaky_relu`` has slope 0.2,
``softmax`` and ``log_softmax`` normalize over the last axis. PReLU is Keras's
``relu(x) − alpha · relu(−x)`` with one learned slope per input element, shared along
``shared_axes``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import keras

from backends.keras.importing import IMPORTERS, by_schema
from backends.keras.model import BUILDERS, keras_args
from translator.ir import Node


def gelu_tanh(x: Any) -> Any:
    """GELU's tanh approximation, ``keras.activations.gelu(x, approximate=True)``: Keras has no
    name for it, so ``model.keras`` holds it as a ``keras.ops.gelu`` call after the layer
    (``ops_only``)."""
    return keras.activations.gelu(x, approximate=True)


# Activations Keras cannot save by name: export applies each as this keras.ops call instead.
OPS_ONLY: dict[str, Callable[[Any], Any]] = {
    "gelu_tanh": lambda x: keras.ops.gelu(x, approximate=True),
}

# One entry per name in translator.spec.schema.ACTIVATIONS (a test checks the two agree).
ACTIVATIONS: dict[str, Callable[..., Any]] = {
    "elu": keras.activations.elu,
    "gelu": keras.activations.gelu,
    "gelu_tanh": gelu_tanh,
    "hard_sigmoid": keras.activations.hard_sigmoid,
    "hard_silu": keras.activations.hard_silu,
    "hard_swish": keras.activations.hard_swish,
    "leaky_relu": keras.activations.leaky_relu,
    "linear": keras.activations.linear,
    "log_softmax": keras.activations.log_softmax,
    "mish": keras.activations.mish,
    "relu": keras.activations.relu,
    "relu6": keras.activations.relu6,
    "selu": keras.activations.selu,
    "sigmoid": keras.activations.sigmoid,
    "silu": keras.activations.silu,
    "softmax": keras.activations.softmax,
    "softplus": keras.activations.softplus,
    "softsign": keras.activations.softsign,
    "swish": keras.activations.swish,
    "tanh": keras.activations.tanh,
}

# Layers whose spec arguments are exactly their Keras arguments.
PLAIN = {
    "ReLU": keras.layers.ReLU,
    "LeakyReLU": keras.layers.LeakyReLU,
    "Softmax": keras.layers.Softmax,
    "ELU": keras.layers.ELU,
    "PReLU": keras.layers.PReLU,
}


def activation(name: str | None) -> Callable[..., Any] | None:
    """Keras's function for an activation name; ``None`` stays ``None`` (Keras: linear)."""
    return None if name is None else ACTIVATIONS[name]


@BUILDERS.register("Activation")
def build_activation(node: Node) -> Any:
    """Activation(activation)."""
    function = activation(node.args["activation"])
    return keras.layers.Activation(**keras_args(node, activation=function))


@BUILDERS.register(*PLAIN)
def build_plain(node: Node) -> Any:
    """ReLU(max_value, negative_slope, threshold), LeakyReLU(negative_slope), Softmax(axis),
    ELU(alpha=1.0), PReLU(shared_axes=None)."""
    return PLAIN[node.type](**keras_args(node))


# Keras's classes of the same names; their config values are the spec's arguments.
IMPORTERS.register("Activation", *PLAIN)(by_schema)
