"""Pooling: Max/AveragePooling1D/2D/3D and their global forms.

channels_first runs on CPU as it is: Keras's TF backend transposes to channels_last around
TF's pooling ops itself, and the global poolings are plain reductions over the spatial axes.

Keras has no ``ceil_mode``. Where PyTorch's ceil mode adds a last window that reaches past the
input, the pool is Keras's own over the input padded at each spatial axis's end by as much
(``ceil_extra``): with −inf for a max, which then never wins; for an average, the pool of the
zero-padded input over the pool of ones padded alike (each window's sum over its count of
elements inside the input, which is what PyTorch divides by with no padding).
"""

from __future__ import annotations

import math
from typing import Any

import keras

from backends.keras.importing import IMPORTERS, by_schema, schema_args
from backends.keras.model import BUILDERS, EXPORT_REWRITES, LayerMixin, keras_args, not_wrapped
from backends.keras.reading import FUSIONS, Call, Fused
from translator.errors import UnsupportedInBackend
from translator.ir import Graph, Node
from translator.ops.conv import split_channels
from translator.ops.pooling import POOLS, ceil_extra

# Every pooling layer's spec arguments are exactly its Keras arguments (but ceil_mode).
LAYERS = {
    "MaxPooling1D": keras.layers.MaxPooling1D,
    "MaxPooling2D": keras.layers.MaxPooling2D,
    "MaxPooling3D": keras.layers.MaxPooling3D,
    "AveragePooling1D": keras.layers.AveragePooling1D,
    "AveragePooling2D": keras.layers.AveragePooling2D,
    "AveragePooling3D": keras.layers.AveragePooling3D,
    "GlobalAveragePooling1D": keras.layers.GlobalAveragePooling1D,
    "GlobalAveragePooling2D": keras.layers.GlobalAveragePooling2D,
    "GlobalAveragePooling3D": keras.layers.GlobalAveragePooling3D,
    "GlobalMaxPooling1D": keras.layers.GlobalMaxPooling1D,
    "GlobalMaxPooling2D": keras.layers.GlobalMaxPooling2D,
    "GlobalMaxPooling3D": keras.layers.GlobalMaxPooling3D,
}


def end_widths(ends: tuple[int, ...], data_format: str) -> list[tuple[int, int]]:
    """``keras.ops.pad`` widths: ``ends`` after each spatial axis, nothing elsewhere."""
    spatial = [(0, end) for end in ends]
    channels = [(0, 0)]
    middle = channels + spatial if data_format == "channels_first" else spatial + channels
    return [(0, 0), *middle]


def ceil_pooled(x: Any, pool: Any, maximum: bool, widths: list[tuple[int, int]]) -> Any:
    """``pool`` (floor mode) over ``x`` padded by ``widths``: PyTorch's ceil-mode windows."""
    if maximum:
        return pool(keras.ops.pad(x, widths, constant_values=-math.inf))
    ones = keras.ops.ones_like(x)
    return keras.ops.divide(pool(keras.ops.pad(x, widths)), pool(keras.ops.pad(ones, widths)))


class _CeilMode(LayerMixin):
    """Family base of the ceil-mode pools: Keras's pooling class (next in the MRO) over the
    input padded at the end of each spatial axis by ``ends``."""

    maximum = True

    def __init__(self, *args: Any, ends: tuple[int, ...], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.ends = tuple(ends)

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "ends": list(self.ends)}

    def call(self, inputs: Any) -> Any:
        widths = end_widths(self.ends, self.data_format)
        return ceil_pooled(inputs, super().call, self.maximum, widths)

    def compute_output_shape(self, input_shape: Any) -> Any:
        widths = end_widths(self.ends, self.data_format)
        padded = [
            n if n is None else n + end for n, (_, end) in zip(input_shape, widths, strict=True)
        ]
        return super().compute_output_shape(tuple(padded))


@keras.saving.register_keras_serializable(package="translator")
class MaxPooling1DCeilMode(_CeilMode, keras.layers.MaxPooling1D):
    """Keras MaxPooling1D with PyTorch's ceil_mode (the end padded with −inf)."""


@keras.saving.register_keras_serializable(package="translator")
class MaxPooling2DCeilMode(_CeilMode, keras.layers.MaxPooling2D):
    """Keras MaxPooling2D with PyTorch's ceil_mode (each end padded with −inf)."""


@keras.saving.register_keras_serializable(package="translator")
class MaxPooling3DCeilMode(_CeilMode, keras.layers.MaxPooling3D):
    """Keras MaxPooling3D with PyTorch's ceil_mode (each end padded with −inf)."""


@keras.saving.register_keras_serializable(package="translator")
class AveragePooling1DCeilMode(_CeilMode, keras.layers.AveragePooling1D):
    """Keras AveragePooling1D with PyTorch's ceil_mode (the last window averages its elements
    inside the input)."""

    maximum = False


@keras.saving.register_keras_serializable(package="translator")
class AveragePooling2DCeilMode(_CeilMode, keras.layers.AveragePooling2D):
    """Keras AveragePooling2D with PyTorch's ceil_mode (a clipped window averages its
    elements inside the input)."""

    maximum = False


@keras.saving.register_keras_serializable(package="translator")
class AveragePooling3DCeilMode(_CeilMode, keras.layers.AveragePooling3D):
    """Keras AveragePooling3D with PyTorch's ceil_mode (a clipped window averages its
    elements inside the input)."""

    maximum = False


CEIL_MODE = {
    "MaxPooling1D": MaxPooling1DCeilMode,
    "MaxPooling2D": MaxPooling2DCeilMode,
    "MaxPooling3D": MaxPooling3DCeilMode,
    "AveragePooling1D": AveragePooling1DCeilMode,
    "AveragePooling2D": AveragePooling2DCeilMode,
    "AveragePooling3D": AveragePooling3DCeilMode,
}


def ceil_ends(node: Node) -> tuple[int, ...]:
    """Per spatial axis, how far past the input the last ceil-mode window reaches (all 0
    without ceil_mode, or where its windows are floor mode's)."""
    a = node.args
    if not a.get("ceil_mode"):
        return ()
    spatial, _ = split_channels(node, POOLS[node.type])
    if None in spatial:  # the IR allows it (PyTorch and ONNX compute it as they run)
        reason = "ceil_mode over an axis of unknown size (Keras pads a known amount)"
        raise UnsupportedInBackend("keras", node.type, reason)
    strides = a["strides"] or a["pool_size"]
    sizes = node.known(spatial)
    ends = tuple(
        ceil_extra(n, k, s) for n, k, s in zip(sizes, a["pool_size"], strides, strict=True)
    )
    return ends if any(ends) else ()


@BUILDERS.register(*LAYERS)
def build_pool(node: Node) -> Any:
    """XPoolingND(pool_size=2, strides=None, padding="valid", ceil_mode=False, data_format)
    and GlobalXPoolingND(data_format, keepdims=False)."""
    args = keras_args(node)
    args.pop("ceil_mode", None)
    ends = ceil_ends(node)
    if ends:
        return CEIL_MODE[node.type](**args, ends=ends)
    return LAYERS[node.type](**args)


@EXPORT_REWRITES.register(*POOLS)
def export_pool(graph: Graph, node: Node, pool: Node, layers: dict[str, Any]) -> Any:
    """A ceil-mode pool as Keras's own layer between ``keras.ops`` calls (see the module
    docstring); None (the backend's layer) where no window reaches past the input."""
    ends = ceil_ends(pool)
    if not ends:
        return None
    not_wrapped(node, pool)
    args = keras_args(node)
    args.pop("ceil_mode")
    layer = LAYERS[node.type](**args)
    widths = end_widths(ends, node.args["data_format"])
    maximum = node.type.startswith("Max")
    return layer, lambda x: ceil_pooled(x, layer, maximum, widths)


IMPORTERS.register(*LAYERS)(by_schema)  # Keras's classes, same arguments


def import_ceil_mode(layer: Any) -> dict[str, Any]:
    """The backend's ceil-mode pool (in a model saved from it) → the pool with ceil_mode."""
    config = {k: v for k, v in layer.get_config().items() if k != "ends"}
    type_ = type(layer).__name__.removesuffix("CeilMode")
    return {**schema_args(layer, type_, config), "ceil_mode": True}


IMPORTERS.register(*(cls.__name__ for cls in CEIL_MODE.values()))(import_ceil_mode)


def _reads(call: Call) -> list[Any]:
    operation, index = call
    return list(operation._inbound_nodes[index].arguments.keras_tensors)


def _made_by(tensor: Any) -> Call:
    operation, index, _ = tensor._keras_history
    return operation, index


def _end_pad(call: Call, pool: Any, fill: float) -> Any:
    """The tensor a keras.ops ``Pad`` call pads with ``fill`` at the end of each spatial
    axis by exactly what ``pool``'s ceil mode needs (None otherwise)."""
    operation, index = call
    node = operation._inbound_nodes[index]
    kwargs = node.arguments.kwargs
    if type(operation).__name__ != "Pad" or operation.mode != "constant":
        return None
    if (kwargs.get("constant_values") or 0.0) != fill or len(node.arguments.keras_tensors) != 1:
        return None
    x = node.arguments.keras_tensors[0]
    rank = len(x.shape) - 2
    first = 2 if pool.data_format == "channels_first" else 1
    sizes = x.shape[first : first + rank]
    if None in sizes or pool.padding != "valid":
        return None
    strides = pool.strides or pool.pool_size
    ends = tuple(map(ceil_extra, sizes, pool.pool_size, strides))
    widths = [list(w) for w in operation.pad_width]
    return (
        x if any(ends) and widths == [list(w) for w in end_widths(ends, pool.data_format)] else None
    )


def _ceil_max(order: list[Call]) -> list[Fused]:
    """model.keras's ceil-mode max pool: Keras's pool over the input padded with −inf."""
    found = []
    for operation, index in order:
        if not isinstance(operation, LAYERS_MAX):
            continue
        (padded,) = _reads((operation, index))
        pad = _made_by(padded)
        x = _end_pad(pad, operation, -math.inf)
        if x is not None:
            found.append(Fused((operation, index), (pad,), (x,), operation, {"ceil_mode": True}))
    return found


def _ceil_average(order: list[Call]) -> list[Fused]:
    """model.keras's ceil-mode average pool: the pool of the zero-padded input over the pool
    of its ones padded alike (``Divide`` of two calls of one Keras pool)."""
    found = []
    for operation, index in order:
        if type(operation).__name__ != "Divide":
            continue
        calls = [_made_by(t) for t in _reads((operation, index))]
        pool = calls[0][0] if len(calls) == 2 else None
        if not isinstance(pool, LAYERS_AVERAGE) or calls[1][0] is not pool:
            continue
        pads = [_made_by(_reads(c)[0]) for c in calls]
        x, ones = (_end_pad(p, pool, 0.0) for p in pads)
        like = _made_by(ones) if ones is not None else None
        if x is None or like is None or type(like[0]).__name__ != "OnesLike":
            continue
        reads = _reads(like)
        if len(reads) != 1 or reads[0] is not x:  # identity: a KerasTensor's == is an op
            continue
        inside = (*pads, like, *calls)
        found.append(Fused((operation, index), inside, (x,), pool, {"ceil_mode": True}))
    return found


LAYERS_MAX = tuple(LAYERS[f"MaxPooling{n}D"] for n in (1, 2, 3))
LAYERS_AVERAGE = tuple(LAYERS[f"AveragePooling{n}D"] for n in (1, 2, 3))
FUSIONS.register("CeilMaxPool")(_ceil_max)
FUSIONS.register("CeilAveragePool")(_ceil_average)
