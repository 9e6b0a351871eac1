"""Reference tables the three backends' tests share: Keras's activations written out in
numpy, the broadcasting merges (cases and the spec that runs one), and rotary position
embeddings as Hugging Face's Llama computes them."""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np

Reference = Callable[[np.ndarray], np.ndarray]


def softmax(x: np.ndarray, axis: int | tuple[int, ...] = -1) -> np.ndarray:
    """Softmax over ``axis`` (several axes: jointly), as Keras computes it."""
    e = np.exp(x - x.max(axis=axis, keepdims=True))
    return e / e.sum(axis=axis, keepdims=True)


def sigmoid(x: np.ndarray) -> np.ndarray:
    """The logistic function."""
    return 1 / (1 + np.exp(-x))


def _selu(x: np.ndarray) -> np.ndarray:
    alpha, scale = 1.6732632423543772, 1.0507009873554805
    return scale * np.where(x > 0, x, alpha * np.expm1(x))


def _hard_sigmoid(x: np.ndarray) -> np.ndarray:
    return np.clip(x + 3, 0, 6) / 6


# Keras 3's definitions, written out: gelu is the exact erf form and gelu_tanh its tanh
# approximation, hard_sigmoid relu6(x + 3) / 6, leaky_relu's slope 0.2, softmax and
# log_softmax over the last axis.
ACTIVATIONS: dict[str, Reference] = {
    "elu": lambda x: np.where(x > 0, x, np.expm1(x)),
    "gelu": lambda x: 0.5 * x * (1 + np.vectorize(math.erf)(x / math.sqrt(2))),
    "gelu_tanh": lambda x: 0.5 * x * (1 + np.tanh(np.sqrt(2 / np.pi) * (x + 0.044715 * x**3))),
    "hard_sigmoid": _hard_sigmoid,
    "hard_silu": lambda x: x * _hard_sigmoid(x),
    "hard_swish": lambda x: x * _hard_sigmoid(x),
    "leaky_relu": lambda x: np.where(x > 0, x, 0.2 * x),
    "linear": lambda x: x,
    "log_softmax": lambda x: np.log(softmax(x)),
    "mish": lambda x: x * np.tanh(np.log1p(np.exp(x))),
    "relu": lambda x: np.maximum(x, 0),
    "relu6": lambda x: np.clip(x, 0, 6),
    "selu": _selu,
    "sigmoid": sigmoid,
    "silu": lambda x: x * sigmoid(x),
    "softmax": softmax,
    "softplus": lambda x: np.log1p(np.exp(x)),
    "softsign": lambda x: x / (1 + np.abs(x)),
    "swish": lambda x: x * sigmoid(x),
    "tanh": np.tanh,
}

# Broadcasting merges (merge, shape of a, shape of b, numpy). ``a`` passes an identity
# MaxPooling2D first, which makes the spec an image one: PyTorch and ONNX then hold both
# inputs channels first ((1, 1, C) → (C, 1, 1)), where they broadcast the same way.
BROADCAST: dict[str, tuple[str, str, str, Callable[[np.ndarray, np.ndarray], np.ndarray]]] = {
    "se_gate": ("Multiply", "[4, 4, 3]", "[1, 1, 3]", np.multiply),
    "row_plus_column": ("Add", "[4, 1, 3]", "[1, 4, 1]", np.add),
    "gate_minus_map": ("Subtract", "[1, 1, 3]", "[4, 4, 3]", np.subtract),
    "maximum_per_pixel": ("Maximum", "[4, 4, 3]", "[4, 4, 1]", np.maximum),
    "minimum_per_row": ("Minimum", "[4, 1, 3]", "[4, 4, 3]", np.minimum),
    "average": ("Average", "[1, 4, 3]", "[4, 4, 3]", lambda a, b: (a + b) / 2),
}


def broadcast_spec(case: str) -> str:
    """The spec of one ``BROADCAST`` case: inputs ``a`` and ``b`` merged."""
    merge, a, b, _ = BROADCAST[case]
    return (
        f"name: t\ninputs: [{{name: a, shape: {a}}}, {{name: b, shape: {b}}}]\nlayers:\n"
        "  - {name: p, type: MaxPooling2D, pool_size: 1, inputs: a}\n"
        f"  - {{type: {merge}, inputs: [p, b]}}\n"
    )


# Normalization (layer, input shape): per channel on images (PyTorch and ONNX then run it
# channels first, the axis renumbered), over two axes, inverted, on a middle axis.
# Rescaling: (layer, input shape, scale, offset); float32 arithmetic: one rounding per operation.
RESCALING = [
    ("{type: Rescaling, scale: 0.00392156862745098}", "[4, 4, 3]", 1 / 255, 0.0),
    ("{type: Rescaling, scale: 0.00784313725490196, offset: -1}", "[4, 4, 3]", 1 / 127.5, -1.0),
    ("{type: Rescaling, scale: -2.5, offset: 0.25}", "[5]", -2.5, 0.25),
]


def check_rescaling(case: int, framework: str) -> None:
    """One ``RESCALING`` case in ``framework``: every tensor (none) as the IR predicts, and
    ``x * scale + offset`` against numpy."""
    import numpy as np

    from tests.harness import check_spec, one_layer

    layer, shape, scale, offset = RESCALING[case]
    built = check_spec(one_layer(layer, shape), framework)
    x = built.inputs["x"]
    np.testing.assert_allclose(built.outputs[0], x * scale + offset, atol=1e-6)


NORMALIZATION: dict[str, tuple[str, str]] = {
    "per_channel_image": ("{type: Normalization}", "[4, 4, 3]"),
    "two_axes": ("{type: Normalization, axis: [1, 2]}", "[4, 5, 3]"),
    "inverted": ("{type: Normalization, invert: true}", "[6]"),
    "middle_axis_inverted": ("{type: Normalization, axis: 1, invert: true}", "[3, 4]"),
    # Given as arguments: constants, no weights anywhere (Keras too).
    "given_per_channel": (
        "{type: Normalization, mean: [0.5, -1, 2], variance: [4, 0.25, 1.0e-16]}",
        "[4, 4, 3]",
    ),
    "given_scalars_inverted": (
        "{type: Normalization, axis: [1, 2], mean: 0.5, variance: 2, invert: true}",
        "[4, 5, 3]",
    ),
}
KERAS_EPSILON = 1e-7  # keras.backend.epsilon(): the smallest standard deviation divided by


def normalization_spec(case: str) -> str:
    """One ``NORMALIZATION`` case's spec: input ``x``, the layer named ``norm``."""
    layer, shape = NORMALIZATION[case]
    return (
        f"name: t\ninputs: [{{name: x, shape: {shape}}}]\nlayers:\n  - {layer[:-1]}, name: norm}}\n"
    )


def statistics(shape: tuple[int, ...]) -> tuple[np.ndarray, np.ndarray]:
    """A seeded mean and a positive variance, its first value tiny (below the epsilon² floor)."""
    rng = np.random.default_rng(7)
    mean = rng.uniform(-1, 1, shape).astype(np.float32)
    variance = rng.uniform(0.25, 4, shape).astype(np.float32)
    variance.reshape(-1)[0] = 1e-16
    return mean, variance


def standardized(
    x: np.ndarray, mean: np.ndarray, variance: np.ndarray, kept: tuple[int, ...], invert: bool
) -> np.ndarray:
    """Keras Normalization in numpy (float64): ``kept`` are the axes (batch 0) mean and
    variance run along."""
    shape = [1] * x.ndim
    for axis, size in zip(kept, mean.shape, strict=True):
        shape[axis] = size
    m = mean.astype(np.float64).reshape(shape)
    std = np.maximum(np.sqrt(variance.astype(np.float64).reshape(shape)), KERAS_EPSILON)
    return m + x * std if invert else (x - m) / std


def check_normalization(case: str, framework: str) -> None:
    """One ``NORMALIZATION`` case in ``framework``: every tensor as the IR predicts it, then
    seeded statistics (one variance below the floor), carried in through the weight map,
    against numpy."""
    from tests.harness import check_spec, forward
    from translator.ir.sample import sample_inputs
    from translator.ops.normalization import normalized_axes
    from translator.weights.canonical import from_canonical

    body = normalization_spec(case)
    graph = check_spec(body, framework).graph
    node = graph.node("norm")
    kept = tuple(i + 1 for i in normalized_axes(node))
    if node.args["mean"] is None:
        mean, variance = statistics(node.weights["keras"][0].shape)
        weights = from_canonical(graph, framework, {"norm/mean": mean, "norm/variance": variance})
    else:  # constants of the layer: no weights to set
        assert node.weights == {"keras": (), "torch": (), "onnx": ()}
        mean, variance = (np.array(node.args[k], np.float32) for k in ("mean", "variance"))
        kept, weights = kept if mean.ndim else (), None
    x = sample_inputs(graph)["x"]
    (out,) = forward(body, framework, {"x": x}, weights)
    expected = standardized(x, mean, variance, kept, node.args["invert"])
    np.testing.assert_allclose(out, expected, atol=1e-5, rtol=1e-5)


def rotary(x: np.ndarray, max_wavelength: float | None) -> np.ndarray:
    """Rotary position embeddings on (batch, steps, heads, size), written out after Hugging
    Face's Llama: ``inv_freq = 1 / base ** (arange(0, size, 2) / size)``, the angles repeated
    over both halves (``cat(freqs, freqs)``), ``x·cos + rotate_half(x)·sin`` with
    ``rotate_half(x) = cat(−x[half:], x[:half])``. None: ``x`` unchanged."""
    if max_wavelength is None:
        return x
    steps, size = x.shape[1], x.shape[-1]
    inverse = 1.0 / max_wavelength ** (np.arange(0, size, 2, dtype=np.float64) / size)
    angles = np.arange(steps, dtype=np.float64)[:, None] * inverse[None, :]
    angles = np.concatenate([angles, angles], axis=-1)[None, :, None, :]
    half = size // 2
    turned = np.concatenate([-x[..., half:], x[..., :half]], axis=-1)
    return (x * np.cos(angles) + turned * np.sin(angles)).astype(x.dtype)
