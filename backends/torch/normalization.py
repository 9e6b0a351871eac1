"""Normalization: Batch-, Layer-, Group-, RMS- and UnitNormalization, with Keras's semantics.

Carried from the spec, never PyTorch's defaults: ``epsilon`` (Keras 1e-3; RMSNormalization's
1e-6), the momentum (PyTorch's is ``1 − m``), ``center``/``scale``, and any feature axis.
PyTorch normalizes channel axis 1 (batch and group norm) or the trailing axes (layer and RMS
norm), so the layers move the spec's axes there and back around themselves; BatchNormalization
is one ``nn.BatchNorm1d`` for every rank, the other axes flattened behind the features. The
modules are the standalone ones (``backends/torch/standalone/normalization.py``) that
``export`` copies into ``model.py``.
"""

from __future__ import annotations

from typing import Any

from backends.torch.importing import (
    MODULES,
    SHAPES,
    ModuleCall,
    Reading,
    Refused,
    arg,
    op_name,
)
from backends.torch.model import describes
from backends.torch.standalone.assemble import Call, call
from backends.torch.standalone.describe import arguments, trailing_axes
from translator.ir import Node
from translator.ops.normalization import channel_axis, normalized_axes

AFFINE = ("epsilon", "center", "scale")


# nn.BatchNorm1d/2d/3d by the input's rank (batch axis included).
NATIVE_BATCH_NORMS = {
    2: "nn.BatchNorm1d",
    3: "nn.BatchNorm1d",
    4: "nn.BatchNorm2d",
    5: "nn.BatchNorm3d",
}


@describes("BatchNormalization")
def describe_batch_normalization(node: Node) -> Call:
    """BatchNormalization(axis=-1, momentum=0.99, epsilon=1e-3, center=True, scale=True)
    → ``nn.BatchNorm1d/2d/3d`` over channel axis 1 (Keras's epsilon, momentum ``1 − m``);
    over another axis, or with only one of center and scale, ``BatchNormalization`` (an
    ``nn.BatchNorm1d`` that moves the axis)."""
    channels, axis = channel_axis(node)
    a = node.physical_args
    native = NATIVE_BATCH_NORMS.get(len(node.input_shape) + 1)
    if axis == 1 and native and a["center"] and a["scale"]:
        return call(native, channels, eps=a["epsilon"], momentum=round(1.0 - a["momentum"], 10))
    more = arguments(node, "momentum", *AFFINE)
    return call("BatchNormalization", channels, axis=axis, **more)


@describes("LayerNormalization")
def describe_layer_normalization(node: Node) -> Call:
    """LayerNormalization(axis=-1, epsilon=1e-3, center=True, scale=True)
    → over the trailing axes with a scale, ``nn.LayerNorm`` (Keras's epsilon; ``bias=False``
    without center); otherwise ``LayerNormalization`` (an ``nn.LayerNorm`` that moves the
    axes, or holds just an offset)."""
    shape, where = trailing_axes(node)
    a = node.physical_args
    rank, axes = where["rank"], where["axes"]
    if a["scale"] and tuple(axes) == tuple(range(rank - len(axes), rank)):
        size = shape[0] if len(shape) == 1 else tuple(shape)
        bias = {} if a["center"] else {"bias": False}
        return call("nn.LayerNorm", size, eps=a["epsilon"], **bias)
    return call("LayerNormalization", shape, **where, **arguments(node, *AFFINE))


@describes("GroupNormalization")
def describe_group_normalization(node: Node) -> Call:
    """GroupNormalization(groups=32, axis=-1, epsilon=1e-3, center=True, scale=True)
    → ``GroupNormalization`` (an ``nn.GroupNorm``)."""
    (index,) = normalized_axes(node)
    size = node.input_shape[index]
    more = arguments(node, *AFFINE)
    return call("GroupNormalization", node.physical_args["groups"], size, axis=index + 1, **more)


@describes("RMSNormalization")
def describe_rms_normalization(node: Node) -> Call:
    """RMSNormalization(axis=-1, epsilon=1e-6) → ``RMSNormalization`` (an ``nn.RMSNorm``)."""
    shape, where = trailing_axes(node)
    return call("RMSNormalization", shape, **where, epsilon=node.physical_args["epsilon"])


@describes("UnitNormalization")
def describe_unit_normalization(node: Node) -> Call:
    """UnitNormalization(axis=-1) → ``UnitNormalization`` over the normalized axes."""
    return call("UnitNormalization", tuple(i + 1 for i in normalized_axes(node)))


@describes("LayerScale")
def describe_layer_scale(node: Node) -> Call:
    """LayerScale(init_values, projection_dim) → ``LayerScale`` (``x * gamma``)."""
    return call("LayerScale", node.args["projection_dim"], node.args["init_values"])


# Importing: nn.BatchNorm1d/2d/3d → BatchNormalization on the channel axis 1 (PyTorch's
# momentum m is Keras's 1 − m), nn.LayerNorm → LayerNormalization over its trailing axes.


@MODULES.register("BatchNorm1d", "BatchNorm2d", "BatchNorm3d")
def read_batch_norm(r: Reading, call: ModuleCall) -> None:
    """nn.BatchNormNd(c, eps, momentum) → BatchNormalization(axis=1, epsilon, momentum=1 − m)."""
    node = call.op("batch_norm")
    if arg(node, 1, "weight") is None or arg(node, 3, "running_mean") is None:
        raise Refused("affine=False or track_running_stats=False has no spec equivalent")
    rank = len(Reading.shape(node))
    momentum = arg(node, 6, "momentum", 0.1)
    layer = {"type": "BatchNormalization", "axis": 1 if rank > 2 else -1}
    layer |= {"epsilon": arg(node, 7, "eps", 1e-5), "momentum": round(1 - momentum, 9)}
    r.add(call, layer, [node.args[0]], node)


@MODULES.register("LayerNorm")
def read_layer_norm(r: Reading, call: ModuleCall) -> None:
    """nn.LayerNorm(shape, eps) → LayerNormalization over the trailing axes."""
    node = call.op("layer_norm")
    normalized, rank = len(arg(node, 1, "normalized_shape")), len(Reading.shape(node))
    if arg(node, 2, "weight") is None:
        raise Refused("elementwise_affine=False has no spec equivalent")
    axis: Any = -1 if normalized == 1 else list(range(rank - normalized, rank))
    layer = {"type": "LayerNormalization", "axis": axis, "epsilon": arg(node, 4, "eps", 1e-5)}
    layer["center"] = arg(node, 3, "bias") is not None
    r.add(call, layer, [node.args[0]], node)


# Importing RMS norms written out (Hugging Face's LlamaRMSNorm and its copies in other models:
# ``weight * (x * rsqrt(mean(x², -1) + eps))``, with casts around), in a module of any class
# → RMSNormalization(epsilon) over the last axis. Its casts to the dtype the values already
# have name the input (Llama's residual reads the cast).
RMS_OPS = {"to", "_assert_tensor_metadata", "pow", "mean", "add", "rsqrt", "mul"}


def rms_shaped(nodes: list[Any]) -> int:
    """All the nodes when they are one RMS norm written out (``RMS_OPS``), else 0."""
    ops = [op_name(n) for n in nodes]
    once = all(ops.count(op) == 1 for op in ("pow", "mean", "rsqrt"))
    return len(nodes) if once and set(ops) <= RMS_OPS else 0


SHAPES.register("RmsNorm")(rms_shaped)


def read_rms_norm(r: Reading, call: ModuleCall) -> None:
    """x · rsqrt(mean(x², -1, keepdim) + eps) · weight → RMSNormalization(epsilon)."""
    square, mean, shift = call.op("pow"), call.op("mean"), call.op("add")
    source = square.args[0]
    while op_name(source) == "to":
        source = source.args[0]
    last = len(Reading.shape(source)) - 1
    if arg(square, 1, "exponent") != 2 or list(arg(mean, 1, "dim")) not in ([-1], [last]):
        raise Refused("not the mean square over the last axis")
    scaled = call.nodes[-1]
    weights = [a for a in scaled.args if getattr(a, "op", "") == "placeholder"]
    if op_name(scaled) != "mul" or not weights:
        raise Refused("no learned scale (the spec's RMSNormalization has one)")
    layer = {"type": "RMSNormalization", "epsilon": float(shift.args[1])}
    r.add(call, layer, [source], scaled)
    for cast in (n for n in call.nodes if op_name(n) == "to" and n.args[0] is source):
        r.refs[cast] = r.value(source)


MODULES.register("RmsNorm")(read_rms_norm)
