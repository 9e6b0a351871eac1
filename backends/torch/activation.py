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

from collections.abc import Callable
from typing import Any

from backends.torch.importing import (
    FUNCTIONS,
    MODULES,
    SHAPES,
    ModuleCall,
    Reading,
    Refused,
    arg,
    camel,
    op_name,
)
from backends.torch.model import describes
from backends.torch.standalone.assemble import Call, call
from backends.torch.standalone.describe import arguments
from translator.ir import Node
from translator.ops.activation import prelu_alpha_shape


@describes("Activation")
def describe_activation(node: Node) -> Call:
    """Activation(activation) → the torch module of that function (``make_activation``)."""
    return call("make_activation", node.physical_args["activation"])


# ReLU arguments → the native module computing it exactly, by which arguments are at their
# defaults (max_value None, negative_slope 0, threshold 0): (max_value, slope, threshold).
NATIVE_RELUS: dict[tuple[bool, bool, bool], Callable[[Any, Any, Any], Call]] = {
    (False, False, False): lambda m, s, t: call("nn.ReLU"),
    (True, False, False): lambda m, s, t: (
        call("nn.ReLU6") if m == 6 else call("nn.Hardtanh", 0.0, float(m))
    ),
    (False, True, False): lambda m, s, t: call("nn.LeakyReLU", s),
}
# A threshold alone is nn.Threshold(threshold, 0)'s rule (x where x > threshold, else 0), but
# torch.onnx.export(dynamo=False) refuses a non-zero threshold (torch 2.13): ``ReLU`` it is.


@describes("ReLU")
def describe_relu(node: Node) -> Call:
    """ReLU(max_value=None, negative_slope=0.0, threshold=0.0) → ``nn.ReLU``, ``nn.ReLU6``
    or ``nn.Hardtanh(0, max_value)`` when capped, ``nn.LeakyReLU`` with a slope; with a
    threshold, or a cap and a slope, ``ReLU``."""
    a = arguments(node, "max_value", "negative_slope", "threshold")
    m, s, t = a.values()
    native = NATIVE_RELUS.get((m is not None, bool(s), bool(t)))
    return native(m, s, t) if native else call("ReLU", **a)


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


# Importing: an activation module (nn.ReLU, ...) or operation (F.relu, torch.tanh, ...) →
# the spec's activation name, from its one ATen node; None where the node's arguments make
# another function than Keras's. A Linear's or convolution's only reader, when it is one of
# these, becomes that layer's ``activation`` (``folded``), as a person writes it.
NAMED: dict[str, Callable[[Any], str | None]] = {
    "relu": lambda node: "relu",
    "sigmoid": lambda node: "sigmoid",
    "tanh": lambda node: "tanh",
    "silu": lambda node: "silu",
    "mish": lambda node: "mish",
    "selu": lambda node: "selu",
    "relu6": lambda node: "relu6",
    "hardswish": lambda node: "hard_swish",
    "gelu": lambda node: {"none": "gelu", "tanh": "gelu_tanh"}.get(
        arg(node, 1, "approximate", "none")
    ),
    "elu": lambda node: "elu" if arg(node, 1, "alpha", 1.0) == 1.0 else None,
    "hardtanh": lambda node: (
        "relu6" if (arg(node, 1, "min_val"), arg(node, 2, "max_val")) == (0.0, 6.0) else None
    ),
    "softmax": lambda node: (
        "softmax" if arg(node, 1, "dim") in (-1, len(Reading.shape(node)) - 1) else None
    ),
}
MODULE_CLASSES = (
    *("ReLU", "Sigmoid", "Tanh", "SiLU", "Mish", "SELU", "ReLU6", "Hardswish"),
    *("GELU", "ELU", "Hardtanh", "Softmax"),
)


def activation_of(node: Any) -> str | None:
    """The spec activation an ATen node computes, or None."""
    named = NAMED.get(op_name(node))
    return None if named is None else named(node)


def folded(r: Reading, output: Any) -> tuple[str | None, Any]:
    """The activation a layer making ``output`` takes in (its only reader, when a named
    activation alone in its module call), and the node that then ends the layer."""
    user = r.only_user(output)
    if user is None or user in r.claimed or user.op != "call_function":
        return None, output
    call = r.call_of(user)
    name = activation_of(user) if len(call.nodes) == 1 else None
    if name is None:
        return None, output
    r.claim(call)
    return name, user


@MODULES.register(*MODULE_CLASSES)
@FUNCTIONS.register(*(camel(op) for op in NAMED))
def read_activation(r: Reading, call: ModuleCall) -> None:
    """An activation alone: ``Activation(name)``; a softmax over another axis than the
    last, ``Softmax(axis)``."""
    node = call.nodes[-1]
    name = activation_of(node)
    bounds = (arg(node, 1, "min_val", -1.0), arg(node, 2, "max_val", 1.0))
    if name is None and op_name(node) == "hardtanh" and bounds[0] == 0 and bounds[1] > 0:
        # nn.Hardtanh(0, cap): model.py's Keras ReLU(max_value=cap)
        r.add(call, {"type": "ReLU", "max_value": float(bounds[1])}, [node.args[0]], node)
        return
    if name is None and op_name(node) == "softmax":
        axis = arg(node, 1, "dim") % len(Reading.shape(node))
        r.add(call, {"type": "Softmax", "axis": axis}, [node.args[0]], node)
        return
    if name is None or len(call.nodes) != 1:
        raise Refused(f"{op_name(node)} with arguments other than Keras's")
    r.add(call, {"type": "Activation", "activation": name}, [node.args[0]], node)


# transformers' tanh approximation of GELU, written out (0.5·x·(1 + tanh(√(2/π)·(x + 0.044715·x³)))):
# GPT-2's "gelu_new". Read whole when its operations are those: Keras's gelu(approximate=True).
TANH_GELU = {"mul", "pow", "add", "tanh"}


@MODULES.register("NewGELUActivation")
def read_tanh_gelu(r: Reading, call: ModuleCall) -> None:
    """NewGELUActivation() → Activation("gelu_tanh")."""
    ops = [op_name(node) for node in call.nodes]
    cubed = call.op("pow")
    if set(ops) != TANH_GELU or arg(cubed, 1, "exponent") != 3.0:
        raise Refused("operations other than the tanh approximation of GELU")
    r.add(call, {"type": "Activation", "activation": "gelu_tanh"}, [cubed.args[0]], call.nodes[-1])


@MODULES.register("LeakyReLU")
@FUNCTIONS.register("LeakyRelu")
def read_leaky_relu(r: Reading, call: ModuleCall) -> None:
    """nn.LeakyReLU(slope) or F.leaky_relu → LeakyReLU(negative_slope)."""
    node = call.op("leaky_relu")
    slope = arg(node, 1, "negative_slope", 0.01)
    r.add(call, {"type": "LeakyReLU", "negative_slope": slope}, [node.args[0]], node)


# Importing Keras's ReLU as model.py's own ``ReLU`` module computes it (a threshold, or a
# cap and a slope: no torch.nn module does), known by its operations, not its class name
# (nn.ReLU's is the same): ``where(x > t, x, 0)`` or ``relu(x)``, then ``clamp(y, 0, cap)``,
# then ``y - slope * relu(t - x)``. Every operation must be one of these, on these operands.


def _relu_base(nodes: list[Any]) -> tuple[Any, float, int] | None:
    """(x, threshold, nodes taken) of ``where(x > t, x, zeros_like(x))`` or ``relu(x)``."""
    ops = [op_name(n) for n in nodes]
    if ops[:1] == ["relu"]:
        return nodes[0].args[0], 0.0, 1
    if ops[:3] != ["gt", "zeros_like", "where"]:
        return None
    above, zero, chosen = nodes[:3]
    x = above.args[0]
    if zero.args[0] is not x or tuple(chosen.args) != (above, x, zero):
        return None
    threshold = above.args[1]
    return (x, float(threshold), 3) if isinstance(threshold, (int, float)) else None


def _number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def written_relu(nodes: list[Any]) -> tuple[Any, Any, dict[str, Any]] | None:
    """(x, the last node, ReLU's arguments) of the operations of Keras's ReLU with a cap, a
    slope or a threshold (see above), all of ``nodes``; None for any other operations."""
    base = _relu_base(nodes)
    if base is None:
        return None
    x, threshold, taken = base
    y, ops, cap, slope = nodes[taken - 1], [op_name(n) for n in nodes], None, 0.0
    if ops[taken : taken + 1] == ["clamp"]:
        low, high = (arg(nodes[taken], i, k) for i, k in ((1, "min"), (2, "max")))
        if nodes[taken].args[0] is not y or low != 0 or not _number(high):
            return None
        y, cap, taken = nodes[taken], float(high), taken + 1
    if ops[taken:] == ["rsub", "relu", "mul", "sub"]:
        below, rectified, scaled, last = nodes[taken:]
        factors = [a for a in scaled.args if a is not rectified]
        fits = tuple(below.args) == (x, threshold) and rectified.args[0] is below
        if not fits or len(factors) != 1 or not _number(factors[0]):
            return None
        if tuple(last.args) != (y, scaled):
            return None
        y, slope, taken = last, float(factors[0]), len(nodes)
    if taken != len(nodes) or (cap is None and not slope and not threshold):
        return None
    return x, y, {"max_value": cap, "negative_slope": slope, "threshold": threshold}


@SHAPES.register("KerasReLU")
def keras_relu_shaped(nodes: list[Any]) -> int:
    """All the nodes when they are Keras's ReLU written out (see ``written_relu``), else 0."""
    return len(nodes) if written_relu(nodes) is not None else 0


@MODULES.register("KerasReLU")
def read_written_relu(r: Reading, call: ModuleCall) -> None:
    """model.py's ``ReLU(max_value, negative_slope, threshold)`` → ReLU with those."""
    found = written_relu(call.nodes)
    if found is None:
        raise Refused("operations other than Keras's ReLU")
    x, y, args = found
    r.add(call, {"type": "ReLU", **args}, [x], y)
