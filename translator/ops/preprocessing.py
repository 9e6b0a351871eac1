"""Preprocessing layers: Rescaling (no weights) and Normalization (a stored mean and variance).

Normalization is Keras's ``keras.layers.Normalization(axis=-1, invert=False)`` as ``adapt``
leaves it: ``(x - mean) / max(sqrt(variance), 1e-7)`` (Keras's ``backend.epsilon()``), or
``mean + x * max(sqrt(variance), 1e-7)`` with ``invert``. Keras keeps ``mean``, ``variance``
(one value per position of the kept axes) and ``count`` (a scalar: how many samples ``adapt``
saw, kept for old saved models) as non-trainable weights; PyTorch (no module of its own)
holds mean and variance as buffers, ONNX as initializers. With ``mean`` and ``variance``
given as arguments, Keras creates no weights at all (the values are constants of the layer),
and neither do PyTorch and ONNX.
"""

from __future__ import annotations

from translator.ir import Node, Shape, WeightSpec
from translator.ir.placement import along_axis, elementwise, layout_rule
from translator.ir.registries import formula_rule, no_weights, shape_rule, weight_rule
from translator.ops.normalization import normalized_axes
from translator.spec.schema import REQUIRED, Arg, Axes, Bool, Float, Floats, layer_schema
from translator.weights.maps import Entry, LayerMap, e, weight_map
from translator.weights.transforms import Zeros

# Keras's ``backend.epsilon()``: the smallest standard deviation Normalization divides by.
EPSILON = 1e-7

layer_schema(
    "Rescaling",
    "preprocessing",
    "Rescales every value: `x * scale + offset` (e.g. `scale: 0.00392156862745098` maps pixel "
    "values 0..255 to 0..1; `scale: 0.00784313725490196, offset: -1` to -1..1). No weights.",
    Arg("scale", Float(), REQUIRED, "the factor every value is multiplied by"),
    Arg("offset", Float(), 0.0, "added after scaling"),
)
layer_schema(
    "Normalization",
    "preprocessing",
    "Standardizes every value with a stored mean and variance: `(x - mean) / "
    "max(sqrt(variance), 1e-7)`. Keras keeps mean, variance and a sample count as "
    "non-trainable weights (set by `adapt`, or carried by `port`); PyTorch keeps mean and "
    "variance as buffers, ONNX as initializers.",
    Arg(
        "axis",
        Axes(none="one mean and variance for every value"),
        -1,
        "the axis or axes with a mean and variance of their own (batch axis is 0); the "
        "others share them; null: one mean and variance for every value",
    ),
    Arg("invert", Bool(), False, "undo the normalization: `mean + x * sqrt(variance)`"),
    Arg(
        "mean",
        Floats(),
        None,
        "the mean as a constant (a number, or one per position of the one kept axis); then "
        "`variance` too, and the layer has no weights",
    ),
    Arg("variance", Floats(), None, "the variance as a constant, given with `mean`"),
)


@shape_rule("Rescaling")
def rescaling_shape(node: Node) -> tuple[Shape, ...]:
    return (node.input_shape,)


weight_rule("Rescaling")(no_weights)

layout_rule("Rescaling")(elementwise)  # scalars: any layout


@shape_rule("Normalization")
def normalization_shape(node: Node) -> tuple[Shape, ...]:
    shape = statistics_shape(node)
    given = [node.args[k] for k in ("mean", "variance") if node.args[k] is not None]
    if len(given) == 1:
        raise node.shape_error("'mean' and 'variance' go together", "give both, or neither")
    for value in given:
        if isinstance(value, tuple) and (len(shape) != 1 or len(value) != shape[0]):
            raise node.shape_error(
                f"a list of {len(value)} values for statistics of shape {shape}",
                "a number, or one value per position of the one kept axis",
            )
    return (node.input_shape,)


def constant(node: Node) -> bool:
    """Whether mean and variance are given as arguments: constants, not weights."""
    return node.args["mean"] is not None


def constants(node: Node) -> tuple[list[float], list[float]]:
    """The given mean and variance, each as a list (one value: a scalar)."""
    mean, variance = node.args["mean"], node.args["variance"]
    return [*(mean if isinstance(mean, tuple) else (mean,))], [
        *(variance if isinstance(variance, tuple) else (variance,))
    ]


def constant_shape(node: Node) -> tuple[int, ...]:
    """The given mean's broadcast shape: ``broadcast_shape``, or all ones for a scalar."""
    if isinstance(node.args["mean"], tuple):
        return broadcast_shape(node)
    return (1,) * (len(node.input_shape) + 1)


def statistics_shape(node: Node) -> tuple[int, ...]:
    """The shape of mean and variance: the sizes of the kept axes, in increasing order (as
    Keras sorts them)."""
    return node.known(tuple(node.input_shape[i] for i in normalized_axes(node)))


def broadcast_shape(node: Node) -> tuple[int, ...]:
    """Mean and variance as they meet the input, batch axis included, in the layout the
    layer runs in: the kept sizes on the kept axes (renumbered by the layout pass when it
    runs channels first), 1 elsewhere."""
    shape = statistics_shape(node)
    if node.placement.natural:
        kept: tuple[int, ...] = (node.physical_args["axis"],)
    else:
        kept = tuple(i + 1 for i in normalized_axes(node))
    out = [1] * (len(node.input_shape) + 1)
    for axis, size in zip(kept, shape, strict=True):
        out[axis] = size
    return tuple(out)


@weight_rule("Normalization")
def normalization_weights(node: Node) -> dict[str, tuple[WeightSpec, ...]]:
    if constant(node):
        return no_weights(node)
    shape = statistics_shape(node)
    return {
        "keras": (
            WeightSpec("mean", shape, "mean", trainable=False),
            WeightSpec("variance", shape, "variance", trainable=False),
            WeightSpec("count", (), "count", trainable=False),
        ),
        # Statistics, not parameters: PyTorch buffers (kept in the state_dict, not trained).
        "torch": (
            WeightSpec("mean", shape, "mean", False, buffer=True),
            WeightSpec("variance", shape, "variance", False, buffer=True),
        ),
        "onnx": (WeightSpec("mean", shape, "mean"), WeightSpec("variance", shape, "variance")),
    }


# Why Keras's count is not carried: it is how many samples adapt() saw, read by nothing at
# inference (Keras keeps it for old saved models); PyTorch and ONNX have no such tensor.
SAMPLE_COUNT = Zeros("int64", "the number of samples adapt() saw, unused at inference")


@weight_map("Normalization")
def normalization_map(node: Node) -> LayerMap:
    """Mean and variance, the same shape everywhere; Keras's count is not carried. Given as
    arguments, they are the spec's constants: nothing to carry."""
    if constant(node):
        return LayerMap({}, {"keras": (), "torch": (), "onnx": ()})
    stats = (e("mean", "mean"), e("variance", "variance"))
    canonical = {w.role: w.shape for w in node.weights["keras"] if w.role != "count"}
    entries = {"keras": (*stats, Entry("count", (), SAMPLE_COUNT)), "torch": stats, "onnx": stats}
    return LayerMap(canonical, entries)


@formula_rule("Normalization")
def normalization_formula(node: Node) -> str:
    n = " × ".join(str(d) for d in statistics_shape(node)) or "1"
    return f"2 statistics (mean, variance) × {n} + 1 count"


# One kept axis (per channel, the usual case) runs where its input is, the axis renumbered
# (channels first for images); several axes run in the spec's layout.
layout_rule("Normalization")(along_axis)
