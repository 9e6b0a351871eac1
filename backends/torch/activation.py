"""Activations: Activation, ReLU, LeakyReLU, Softmax, ELU, PReLU, and the activation-by-name
table that Dense, the convolutions and the recurrent layers share.

Every function computes what Keras computes: ``gelu`` is the exact (erf) form,
``hard_sigmoid`` is ``relu6(x + 3) / 6``, ``leaky_relu`` by name uses Keras's slope 0.2 and
``softmax``/``log_softmax`` work over the last axis. The modules and the table are the
standalone ones (``backends/torch/standalone/layers.py``) that ``export`` copies into
``model.py``.
"""

from __future__ import annotations

from torch import nn

from backends.torch.model import BUILDERS
from backends.torch.standalone.layers import ACTIVATIONS, PReLU, ReLU, Softmax, make_activation
from translator.ir import Node
from translator.ops.activation import prelu_alpha_shape

__all__ = ["ACTIVATIONS", "PReLU", "ReLU", "Softmax", "make_activation"]


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
