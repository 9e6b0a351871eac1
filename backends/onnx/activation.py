"""Activations by name (one table) and the activation layers: Activation, ReLU, LeakyReLU,
Softmax, ELU, PReLU. Every function follows Keras 3's definition, not ONNX's defaults."""

from __future__ import annotations

from collections.abc import Callable

from backends.onnx.model import BUILDERS, Layer

Apply = Callable[[Layer, str], str]

# Keras's selu constants (ONNX's defaults are these rounded to float32 first).
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
