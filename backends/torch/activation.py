"""Activations: Activation, ReLU, LeakyReLU, Softmax, ELU, PReLU, and the activation-by-name
table that Dense, the convolutions and the recurrent layers share.

Every function computes what Keras computes: ``gelu`` is the exact (erf) form (``gelu_tanh``
the tanh one, ``nn.GELU(approximate="tanh")``), ``hard_sigmoid`` is ``relu6(x + 3) / 6``
(``nn.Hardsigmoid``), ``hard_swish`` ``x * relu6(x + 3) / 6`` (``nn.Hardswish``), ``leaky_relu`` by name uses Keras's slope 0.2 and
``softmax``/``log_softmax`` work over the last axis. The modules and the table are the
standalone ones (``backends/torch/standalone/layers.py``) that ``export`` copies into
``model.py``; each description below is the constructor call the backend builds and export
writes.
"""

from __future__ import annotations

from backends.torch.model import describes
from backends.torch.standalone.assemble import Call, call
from backends.torch.standalone.describe import arguments
from translator.ir import Node
from translator.ops.activation import prelu_alpha_shape


@describes("Activation")
def describe_activation(node: Node) -> Call:
    """Activation(activation) → the torch module of that function (``make_activation``)."""
    return call("make_activation", node.physical_args["activation"])


# ReLU arguments (max_value, negative_slope, threshold) → the native module computing it.
NATIVE_RELUS: dict[tuple[float | None, ...], str] = {
    (None, 0.0, 0.0): "nn.ReLU",
    (6.0, 0.0, 0.0): "nn.ReLU6",
}


@describes("ReLU")
def describe_relu(node: Node) -> Call:
    """ReLU(max_value=None, negative_slope=0.0, threshold=0.0) → ``nn.ReLU`` (or
    ``nn.ReLU6`` capped at 6); with a slope or a threshold, ``ReLU``."""
    a = arguments(node, "max_value", "negative_slope", "threshold")
    native = NATIVE_RELUS.get(tuple(None if v is None else float(v) for v in a.values()))
    return call(native) if native else call("ReLU", **a)


@describes("LeakyReLU")
def describe_leaky_relu(node: Node) -> Call:
    """LeakyReLU(negative_slope=0.3) → ``nn.LeakyReLU`` with the spec's slope."""
    return call("nn.LeakyReLU", node.physical_args["negative_slope"])


@describes("Softmax")
def describe_softmax(node: Node) -> Call:
    """Softmax(axis=-1) → ``Softmax``."""
    return call("Softmax", node.physical_args["axis"])


@describes("ELU")
def describe_elu(node: Node) -> Call:
    """ELU(alpha=1.0) → ``nn.ELU`` with the spec's alpha."""
    return call("nn.ELU", node.physical_args["alpha"])


@describes("PReLU")
def describe_prelu(node: Node) -> Call:
    """PReLU(shared_axes=None) → ``PReLU``, one slope per unshared element."""
    return call("PReLU", prelu_alpha_shape(node))
