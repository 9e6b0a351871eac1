"""Normalization: Batch-, Layer-, Group-, RMS- and UnitNormalization.

Keras's epsilon default is 1e-3 where PyTorch and ONNX use 1e-5; Keras momentum 0.99 is
PyTorch's 0.1 (1 − m). The spec's values (Keras defaults) are carried to every backend.
"""

from __future__ import annotations

from translator.ir import Node, Shape, WeightSpec
from translator.ir.placement import along_axis, layout_rule
from translator.ir.registries import (
    conversions,
    formula_rule,
    no_weights,
    number,
    shape_rule,
    weight_rule,
)
from translator.spec.schema import REQUIRED, Arg, Axes, Bool, Float, Int, layer_schema
from translator.weights.maps import Entry, LayerMap, e, ir_names, renamed, simple_map, weight_map
from translator.weights.transforms import SAME, Map, Reshape, Zeros

_COMMON = (
    Arg(
        "epsilon", Float(0.0), 1e-3, "added to the variance (Keras 1e-3; PyTorch/ONNX default 1e-5)"
    ),
    Arg("center", Bool(), True, "learn an offset beta"),
    Arg("scale", Bool(), True, "learn a scale gamma"),
)
layer_schema(
    "BatchNormalization",
    "normalization",
    "Normalizes each feature with batch statistics (training) or moving statistics (inference).",
    Arg("axis", Axes(), -1, "the feature axis (batch axis is 0)"),
    Arg(
        "momentum",
        Float(0.0, 1.0),
        0.99,
        "moving-average momentum (Keras style; PyTorch's is 1 − m)",
    ),
    *_COMMON,
    aliases=("BatchNorm1d", "BatchNorm2d"),
)
layer_schema(
    "LayerNormalization",
    "normalization",
    "Normalizes each example over the given axes.",
    Arg("axis", Axes(), -1, "the axis or axes to normalize over (batch axis is 0)"),
    *_COMMON,
    aliases=("LayerNorm",),
)


def normalized_axes(node: Node) -> tuple[int, ...]:
    """The node's axes as indexes into its per-example shape (batch left out)."""
    rank = len(node.input_shape)
    axes = node.args["axis"]
    if axes is None:  # Normalization's null: every axis shares one mean and variance
        return ()
    out = []
    for axis in axes if isinstance(axes, tuple) else (axes,):
        index = axis - 1 if axis > 0 else rank + axis
        if axis == 0 or not 0 <= index < rank:
            raise node.shape_error(
                f"axis {axis} is out of range for a rank-{rank + 1} input",
                f"an axis from 1 to {rank} or from -{rank} to -1",
            )
        if node.input_shape[index] is None:
            raise node.shape_error(f"axis {axis} must have a known size", "give it a size")
        out.append(index)
    if len(set(out)) != len(out):
        raise node.shape_error("an axis is listed twice", "list each axis once")
    return tuple(sorted(out))


def channel_axis(node: Node) -> tuple[int, int]:
    """A one-axis norm's channel count and its axis (batch axis 0) in the layout the layer
    runs in: the spec's, or the one the layout pass renumbered (images: 1)."""
    (index,) = normalized_axes(node)
    (channels,) = node.known((node.input_shape[index],))
    return channels, node.physical_args["axis"] if node.placement.natural else index + 1


def _affine(node: Node, shape: tuple[int, ...], gamma: str, beta: str) -> tuple[WeightSpec, ...]:
    """The learned scale and offset, each present only when its flag is on."""
    out: tuple[WeightSpec, ...] = ()
    if node.args["scale"]:
        out += (WeightSpec(gamma, shape, "gamma"),)
    if node.args["center"]:
        out += (WeightSpec(beta, shape, "beta"),)
    return out


@shape_rule("BatchNormalization", "LayerNormalization")
def normalization_shape(node: Node) -> tuple[Shape, ...]:
    normalized_axes(node)
    return (node.input_shape,)


@weight_rule("BatchNormalization")
def batchnorm_weights(node: Node) -> dict[str, tuple[WeightSpec, ...]]:
    axes = normalized_axes(node)
    if len(axes) != 1:
        raise node.shape_error("BatchNormalization takes a single axis", "axis: -1, for example")
    shape = node.known((node.input_shape[axes[0]],))

    return {
        "keras": (
            *_affine(node, shape, "gamma", "beta"),
            WeightSpec("moving_mean", shape, "moving_mean", trainable=False),
            WeightSpec("moving_variance", shape, "moving_variance", trainable=False),
        ),
        # PyTorch keeps the running statistics as buffers, not parameters.
        "torch": (
            *_affine(node, shape, "weight", "bias"),
            WeightSpec("running_mean", shape, "moving_mean", False, buffer=True),
            WeightSpec("running_var", shape, "moving_variance", False, buffer=True),
            WeightSpec("num_batches_tracked", (), "num_batches_tracked", False, buffer=True),
        ),
        "onnx": (
            *_affine(node, shape, "scale", "B"),
            WeightSpec("input_mean", shape, "moving_mean"),
            WeightSpec("input_var", shape, "moving_variance"),
        ),
    }


@weight_rule("LayerNormalization")
def layernorm_weights(node: Node) -> dict[str, tuple[WeightSpec, ...]]:
    shape = node.known(tuple(node.input_shape[i] for i in normalized_axes(node)))
    # Keras orders gamma's axes by the *written* axis values, so [1, -1] gives (last, first).
    axes = node.args["axis"] if isinstance(node.args["axis"], tuple) else (node.args["axis"],)
    full = (None, *node.input_shape)
    keras_shape = node.known(tuple(full[a] for a in sorted(axes)))
    return {
        "keras": _affine(node, keras_shape, "gamma", "beta"),
        "torch": _affine(node, shape, "weight", "bias"),
        "onnx": _affine(node, shape, "Scale", "B"),
    }


layer_schema(
    "GroupNormalization",
    "normalization",
    "Normalizes groups of channels per example (PyTorch nn.GroupNorm; ONNX GroupNormalization).",
    Arg("groups", Int(), 32, "number of channel groups; must divide the channels"),
    Arg("axis", Axes(), -1, "the channel axis"),
    *_COMMON,
)
layer_schema(
    "RMSNormalization",
    "normalization",
    "Scales by the root mean square over the axis (no centering); Keras epsilon 1e-6.",
    Arg("axis", Axes(), -1, "the axis or axes to normalize over"),
    Arg("epsilon", Float(0.0), 1e-6, "added to the mean square"),
)
layer_schema(
    "UnitNormalization",
    "normalization",
    "Scales each example to unit L2 norm over the axis. No weights.",
    Arg("axis", Axes(), -1, "the axis or axes"),
)


layer_schema(
    "LayerScale",
    "normalization",
    "A learned scale per feature of the last axis, `x * gamma` (ConvNeXt's, CaiT's and "
    "timm's LayerScale; keras.applications' ConvNeXt class). PyTorch has no module for it.",
    Arg("init_values", Float(0.0), REQUIRED, "the value every scale starts at"),
    Arg("projection_dim", Int(), REQUIRED, "the size of the last axis, one scale each"),
)


@shape_rule("LayerScale")
def layer_scale_shape(node: Node) -> tuple[Shape, ...]:
    """The input's shape; ``projection_dim`` must be the size of its last axis."""
    size = node.input_shape[-1] if node.input_shape else None
    if size != node.args["projection_dim"]:
        raise node.shape_error(
            f"projection_dim={node.args['projection_dim']} is not the last axis's size",
            f"projection_dim: {size}",
        )
    return (node.input_shape,)


@weight_rule("LayerScale")
def layer_scale_weights(node: Node) -> dict[str, tuple[WeightSpec, ...]]:
    shape = (node.args["projection_dim"],)
    return {fw: (WeightSpec("gamma", shape, "gamma"),) for fw in ("keras", "torch", "onnx")}


@weight_map("LayerScale")
def layer_scale_map(node: Node) -> LayerMap:
    """One scale per feature, the same vector everywhere."""
    return renamed(node, {fw: (("gamma", "gamma"),) for fw in ("keras", "torch", "onnx")})


@formula_rule("LayerScale")
def layer_scale_formula(node: Node) -> str:
    return f"1 scale × {node.args['projection_dim']} features"


@shape_rule("GroupNormalization", "RMSNormalization", "UnitNormalization")
def same_shape(node: Node) -> tuple[Shape, ...]:
    axes = normalized_axes(node)
    rank = len(node.input_shape)
    if node.type == "RMSNormalization" and axes != tuple(range(rank - len(axes), rank)):
        # Keras multiplies by its scale aligned to the last axes, whatever `axis` says.
        raise node.shape_error(
            "RMSNormalization normalizes only trailing axes in Keras", "axis: -1"
        )
    return (node.input_shape,)


@weight_rule("GroupNormalization")
def groupnorm_weights(node: Node) -> dict[str, tuple[WeightSpec, ...]]:
    (axis,) = normalized_axes(node)
    shape = node.known((node.input_shape[axis],))
    (c,) = shape
    if c % node.args["groups"]:
        raise node.shape_error(
            f"groups={node.args['groups']} does not divide {c} channels", "choose a divisor"
        )
    return {
        "keras": _affine(node, shape, "gamma", "beta"),
        "torch": _affine(node, shape, "weight", "bias"),
        "onnx": _affine(node, shape, "scale", "B"),
    }


@weight_rule("RMSNormalization")
def rmsnorm_weights(node: Node) -> dict[str, tuple[WeightSpec, ...]]:
    shape = node.known(tuple(node.input_shape[i] for i in normalized_axes(node)))
    return {
        "keras": (WeightSpec("scale", shape, "gamma"),),
        "torch": (WeightSpec("weight", shape, "gamma"),),
        "onnx": (WeightSpec("scale", shape, "gamma"),),
    }


weight_rule("UnitNormalization")(no_weights)


# Why num_batches_tracked is not carried: PyTorch reads it only when momentum is None (a
# cumulative average), which a spec cannot ask for; it is a step counter, not a weight.
STEP_COUNTER = Zeros("int64", "PyTorch's step counter, read only when momentum is None")


@weight_map("BatchNormalization")
def batchnorm_map(node: Node) -> LayerMap:
    """Scale, offset and moving statistics, one vector each; PyTorch's statistics are
    buffers (``running_mean``, ``running_var``) beside its ``num_batches_tracked``."""
    return simple_map(
        node,
        {
            "keras": tuple(e(r, r) for r in ("gamma", "beta", "moving_mean", "moving_variance")),
            "torch": (
                e("weight", "gamma"),
                e("bias", "beta"),
                e("running_mean", "moving_mean"),
                e("running_var", "moving_variance"),
                Entry("num_batches_tracked", (), STEP_COUNTER),
            ),
            "onnx": (
                e("scale", "gamma"),
                e("B", "beta"),
                e("input_mean", "moving_mean"),
                e("input_var", "moving_variance"),
            ),
        },
    )


def _row_major(node: Node, keras_name: str, torch_name: str) -> Map:
    """Keras's scale of a multi-axis LayerNormalization → PyTorch's/ONNX's (same values in
    row-major order, another shape), or a plain copy when the shapes agree."""
    keras = ir_names(node, "keras").get(keras_name)
    torch = ir_names(node, "torch").get(torch_name)
    return Reshape(torch, keras) if keras and torch and keras != torch else SAME


@weight_map("LayerNormalization")
def layernorm_map(node: Node) -> LayerMap:
    """PyTorch and ONNX order the scale's axes increasingly; Keras orders them by the written
    axis values and reshapes the scale to the broadcast shape, so the values agree in
    row-major order."""
    gamma, beta = _row_major(node, "gamma", "weight"), _row_major(node, "beta", "bias")
    return simple_map(
        node,
        {
            "keras": (e("gamma", "gamma"), e("beta", "beta")),
            "torch": (e("weight", "gamma", via=gamma), e("bias", "beta", via=beta)),
            "onnx": (e("Scale", "gamma", via=gamma), e("B", "beta", via=beta)),
        },
    )


@weight_map("GroupNormalization")
def groupnorm_map(node: Node) -> LayerMap:
    """A scale and an offset per channel, in every framework."""
    return renamed(
        node,
        {
            "keras": (("gamma", "gamma"), ("beta", "beta")),
            "torch": (("weight", "gamma"), ("bias", "beta")),
            "onnx": (("scale", "gamma"), ("B", "beta")),
        },
    )


@weight_map("RMSNormalization")
def rmsnorm_map(node: Node) -> LayerMap:
    """The scale over the normalized (trailing) axes, the same shape everywhere."""
    return renamed(
        node,
        {
            "keras": (("scale", "gamma"),),
            "torch": (("weight", "gamma"),),
            "onnx": (("scale", "gamma"),),
        },
    )


@formula_rule("BatchNormalization")
def batchnorm_formula(node: Node) -> str:
    c = next(w.shape[0] for w in node.weights["keras"] if w.role == "moving_mean")
    learned = int(node.args["scale"]) + int(node.args["center"])
    return f"({learned} learned + 2 moving statistics) × {c} channels"


def _sizes(shape: tuple[int, ...]) -> str:
    return " × ".join(str(d) for d in shape)


@formula_rule("LayerNormalization", "GroupNormalization")
def affine_formula(node: Node) -> str:
    """``2 (gamma, beta) × 80 features``: one scale and one offset per normalized feature."""
    learned = [w for w in node.weights["keras"] if w.role in ("gamma", "beta")]
    names = ", ".join(w.name for w in learned)
    what = "channels" if node.type == "GroupNormalization" else "features"
    return f"{len(learned)} ({names}) × {_sizes(learned[0].shape)} {what}"


@formula_rule("RMSNormalization")
def rmsnorm_formula(node: Node) -> str:
    (scale,) = node.weights["keras"]
    return f"1 scale × {_sizes(scale.shape)} features"


def _epsilon(value: float) -> str:
    return (
        f"epsilon {number(value)} carried to all three (the defaults differ: Keras 1e-3,"
        " PyTorch and ONNX 1e-5)"
    )


conversions(
    "BatchNormalization",
    momentum=lambda m: (
        f"momentum: Keras {number(m)} → PyTorch {number(round(1 - m, 12))} (1 − m),"
        f" ONNX {number(m)}"
    ),
    epsilon=_epsilon,
)
conversions("LayerNormalization", "GroupNormalization", epsilon=_epsilon)
conversions(
    "RMSNormalization",
    epsilon=lambda v: (
        f"epsilon {number(v)} carried to all three (Keras's default 1e-6; PyTorch's nn.RMSNorm"
        " would take the float's machine epsilon)"
    ),
)

# BatchNormalization normalizes one channel axis: on images, channels first.
layout_rule("BatchNormalization")(along_axis)
