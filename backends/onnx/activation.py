"""Activations by name (one table) and the activation layers: Activation, ReLU, LeakyReLU,
Softmax, ELU, PReLU. Every function follows Keras 3's definition, not ONNX's defaults."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import onnx

from backends.onnx.importing import RECOGNISERS, Axes, Reading, Refused, View, attributes
from backends.onnx.merge import PRODUCT_OP
from backends.onnx.model import BUILDERS, Layer
from backends.onnx.relu_reading import written_relu

Apply = Callable[[Layer, str], str]

# Keras's selu constants (ONNX's defaults are these rounded to float32 first).
SOFTMAX_OP = "Softmax"  # the ONNX operator, for the recognisers of other families
SELU_ALPHA = 1.6732632423543772848170429916717
SELU_SCALE = 1.0507009873554804934193349852946


def _unary(op_type: str, **attrs: float | int | str) -> Apply:
    def apply(layer: Layer, x: str) -> str:
        return layer.op(op_type, [x], **attrs)

    return apply


def _identity(layer: Layer, x: str) -> str:
    return x


def _silu(layer: Layer, x: str) -> str:
    # Opset 21 has no Swish operator: x * sigmoid(x), as Keras computes it.
    return layer.op("Mul", [x, layer.op("Sigmoid", [x])])


def _relu6(layer: Layer, x: str) -> str:
    return layer.op("Clip", [x, layer.const("min", 0.0), layer.const("max", 6.0)])


ACTIVATIONS: dict[str, Apply] = {
    "elu": _unary("Elu", alpha=1.0),
    "gelu": _unary("Gelu", approximate="none"),  # Keras's "gelu" is the exact erf form
    "gelu_tanh": _unary("Gelu", approximate="tanh"),
    "hard_sigmoid": _unary("HardSigmoid", alpha=1.0 / 6.0, beta=0.5),  # relu6(x + 3) / 6
    "hard_silu": _unary("HardSwish"),  # x * relu6(x + 3) / 6: ONNX's alpha 1/6, beta 0.5
    "hard_swish": _unary("HardSwish"),
    "leaky_relu": _unary("LeakyRelu", alpha=0.2),  # the activation's default, not the layer's
    "linear": _identity,
    "log_softmax": _unary("LogSoftmax", axis=-1),
    "mish": _unary("Mish"),  # x * tanh(softplus(x)), opset 18
    "relu": _unary("Relu"),
    "relu6": _relu6,
    "selu": _unary("Selu", alpha=SELU_ALPHA, gamma=SELU_SCALE),
    "sigmoid": _unary("Sigmoid"),
    "silu": _silu,
    "softmax": _unary("Softmax", axis=-1),
    "softplus": _unary("Softplus"),
    "softsign": _unary("Softsign"),
    "swish": _silu,
    "tanh": _unary("Tanh"),
}


def apply(layer: Layer, x: str, name: str | None) -> str:
    """``x`` through the activation ``name`` (``None`` is linear)."""
    return ACTIVATIONS[name or "linear"](layer, x)


@BUILDERS.register("Activation")
def build_activation(layer: Layer, inputs: list[str]) -> list[str]:
    """Activation(activation)."""
    return [apply(layer, inputs[0], layer.args["activation"])]


@BUILDERS.register("ReLU")
def build_relu(layer: Layer, inputs: list[str]) -> list[str]:
    """ReLU(max_value=None, negative_slope=0, threshold=0), as keras.activations.relu:
    ``clip(x if x > threshold else 0, 0, max_value) - negative_slope * relu(threshold - x)``."""
    (x,) = inputs
    top, slope, threshold = (layer.args[k] for k in ("max_value", "negative_slope", "threshold"))
    if threshold:
        above = layer.op("Greater", [x, layer.const("threshold", threshold)])
        y = layer.op("Where", [above, x, layer.const("zero", 0.0)])
    else:
        y = layer.op("Relu", [x])
    if top is not None:
        y = layer.op("Clip", [y, layer.const("min", 0.0), layer.const("max", top)])
    if slope:
        below = layer.op("Relu", [layer.op("Sub", [layer.const("threshold", threshold), x])])
        y = layer.op("Sub", [y, layer.op("Mul", [below, layer.const("slope", slope)])])
    return [y]


@BUILDERS.register("LeakyReLU")
def build_leaky_relu(layer: Layer, inputs: list[str]) -> list[str]:
    """LeakyReLU(negative_slope=0.3)."""
    return [layer.op("LeakyRelu", inputs, alpha=layer.args["negative_slope"])]


@BUILDERS.register("Softmax")
def build_softmax(layer: Layer, inputs: list[str]) -> list[str]:
    """Softmax(axis=-1); several axes normalize jointly: ``exp(x - logsumexp(x, axes))``."""
    (x,) = inputs
    axes = layer.args["axis"]
    axes = axes if isinstance(axes, tuple) else (axes,)
    if len(axes) == 1:
        return [layer.op("Softmax", [x], axis=axes[0])]
    total = layer.op("ReduceLogSumExp", [x, layer.ints("axes", axes)], keepdims=1)
    return [layer.op("Exp", [layer.op("Sub", [x, total])])]


@BUILDERS.register("ELU")
def build_elu(layer: Layer, inputs: list[str]) -> list[str]:
    """ELU(alpha=1.0): ``x`` if x > 0 else ``alpha * (exp(x) - 1)``."""
    return [layer.op("Elu", inputs, alpha=layer.args["alpha"])]


@BUILDERS.register("PReLU")
def build_prelu(layer: Layer, inputs: list[str]) -> list[str]:
    """PReLU(shared_axes=None): Keras's ``relu(x) - alpha * relu(-x)`` is ONNX's PRelu, whose
    slope (the input's per-example shape, shared axes 1) broadcasts over the batch."""
    return [layer.op("PRelu", [inputs[0], layer.weight("slope")])]


# Importing: an activation operator → the spec's activation name (Keras's), given its
# attributes; None when the attributes make it another function than Keras's.
NAMED: dict[str, Callable[[dict[str, Any]], str | None]] = {
    "Relu": lambda a: "relu",
    "Sigmoid": lambda a: "sigmoid",
    "Tanh": lambda a: "tanh",
    "Softplus": lambda a: "softplus",
    "Softsign": lambda a: "softsign",
    "Mish": lambda a: "mish",
    "HardSwish": lambda a: "hard_swish",
    "Elu": lambda a: "elu" if a.get("alpha", 1.0) == 1.0 else None,
    "Gelu": lambda a: {"none": "gelu", "tanh": "gelu_tanh"}.get(a.get("approximate", "none")),
    "Softmax": lambda a: "softmax" if a.get("axis", -1) == -1 else None,
}


def _clip_name(r: Reading, node: onnx.NodeProto) -> str | None:
    """Clip(x, 0, 6) is relu6, Clip(x, 0) relu; other bounds are no named activation."""
    bounds = [r.const(t) if t else None for t in [*node.input[1:], "", ""][:2]]
    low, high = (None if b is None else float(b) for b in bounds)
    if len(node.input) > 1 and node.input[1] and bounds[0] is None:
        return None
    names: dict[tuple[float | None, float | None], str] = {(0.0, 6.0): "relu6", (0.0, None): "relu"}
    return names.get((low, high))


def activation_name(r: Reading, node: onnx.NodeProto, rank: int) -> str | None:
    """The spec activation ``node`` computes on a tensor of ``rank``, or None."""
    if node.op_type == "Clip":
        return _clip_name(r, node)
    a = attributes(node)
    if node.op_type == "Softmax" and a.get("axis", -1) == rank - 1:
        a["axis"] = -1
    read = NAMED.get(node.op_type)
    return None if read is None else read(a)


# Activations exported as a chain of operators ending in a Mul by the chain's input:
# x · sigmoid(x) is silu, x · tanh(softplus(x)) is mish.
COMPOSITES: dict[str, tuple[str, ...]] = {"silu": ("Sigmoid",), "mish": ("Softplus", "Tanh")}


def _chain(r: Reading, start: onnx.NodeProto, ops: tuple[str, ...]) -> list[onnx.NodeProto]:
    """``start`` and its single readers, while their operators are ``ops``."""
    nodes: list[onnx.NodeProto] = []
    node: onnx.NodeProto | None = start
    for op in ops:
        if node is None or node.op_type != op:
            return []
        nodes.append(node)
        node = r.reader(node.output[0])
    return nodes


def composite(r: Reading, tensor: str) -> tuple[str, list[onnx.NodeProto]] | None:
    """The activation (and its nodes, the Mul last) the two readers of ``tensor`` compute
    together (see ``COMPOSITES``), or None."""
    readers = r.source.readers.get(tensor, [])
    if len(readers) != 2 or tensor in r.source.outputs:
        return None
    for name, ops in COMPOSITES.items():
        for start in readers:
            nodes = _chain(r, start, ops)
            mul = r.reader(nodes[-1].output[0]) if nodes else None
            if mul is not None and mul in readers and mul.op_type == PRODUCT_OP:
                return name, [*nodes, mul]
    return None


def folded(
    r: Reading, tensor: str, axes: Axes, dense: bool = False
) -> tuple[str | None, str, Axes]:
    """The activation a Dense or convolution takes in, as a person writes it
    (``Dense(units, activation=relu)``): the only reader of its output ``tensor`` (through
    transposes), when it is a named activation (softmax, over the last axis, only after a
    Dense). Returns the name, the tensor the layer then makes and that tensor's axes."""
    found, view = r.reader(tensor), View("", axes)
    passed = []
    while found is not None and found.op_type == "Transpose":
        passed.append(found)
        view = view.permuted(list(attributes(found)["perm"]))
        found = r.reader(found.output[0])
    joint = composite(r, tensor) if found is None and not passed else None
    if joint is not None:
        for node in joint[1]:
            r.claim(node)
        return joint[0], joint[1][-1].output[0], axes
    last = view.axes[-1] == max(a for a in view.axes if a is not None)
    if found is None or (found.op_type == "Softmax" and not (dense and last)):
        return None, tensor, axes
    if written_relu(r, found) is not None:  # a ReLU layer of its own, capped or leaky
        return None, tensor, axes
    name = activation_name(r, found, len(axes))
    if name is None:
        return None, tensor, axes
    for node in [*passed, found]:
        r.claim(node)
    return name, found.output[0], view.axes


@RECOGNISERS.register(*NAMED, "Clip")
def read_activation(r: Reading, node: onnx.NodeProto) -> None:
    """An activation on its own: ``Activation(name)`` (element-wise, the view is kept); a
    softmax over another axis than the last is a ``Softmax(axis)``."""
    x = r.view(node.input[0])
    joint = composite(r, node.input[0])
    if joint is not None and joint[1][0] is node:
        for later in joint[1][1:]:
            r.claim(later)
        layer = {"type": "Activation", "activation": joint[0]}
        r.add(node, layer, [x], {joint[1][-1].output[0]: x.axes})
        return
    if node.op_type == "Softmax":
        axis = x.axes[attributes(node).get("axis", -1) % len(x.axes)]
        if axis is None or axis == 0:
            raise Refused("a softmax over an axis the spec does not have")
        if axis != max(i for i in x.axes if i is not None):
            r.add(node, {"type": "Softmax", "axis": axis}, [x], {node.output[0]: x.axes})
            return
    name = activation_name(r, node, len(x.axes)) if node.op_type != "Softmax" else "softmax"
    if name is None:
        raise Refused(f"its attributes or bounds differ from Keras's {node.op_type.lower()}")
    layer = {"type": "Activation", "activation": name}
    r.add(node, layer, [x], {node.output[0]: x.axes})


@RECOGNISERS.register("LeakyRelu")
def read_leaky_relu(r: Reading, node: onnx.NodeProto) -> None:
    """LeakyRelu(alpha) → LeakyReLU(negative_slope=alpha)."""
    x = r.view(node.input[0])
    slope = float(np.float32(attributes(node).get("alpha", 0.01)))
    layer = {"type": "LeakyReLU", "negative_slope": round(slope, 7)}
    r.add(node, layer, [x], {node.output[0]: x.axes})
