"""Pooling: Max/AveragePooling1D/2D/3D and their global forms. None has weights.

Padding ``same`` follows TensorFlow (extra element at the end): max pooling pads with -inf so
padding never wins; average pooling leaves the padding out of each window's count, as Keras
does (ONNX ``count_include_pad=0``). The modules are the standalone ones
(``backends/torch/standalone/spatial.py``) that ``export`` copies into ``model.py``.
"""

from __future__ import annotations

from typing import Any

from backends.torch.model import describes
from backends.torch.standalone.assemble import Call, Description, call, steps
from backends.torch.standalone.describe import compact
from translator.ir import Node
from translator.ops.pooling import GLOBAL_POOLS, POOLS

# Layer type → its windowed pooling module (the rank comes from the window's arguments).
POOL_CLASSES = {
    "MaxPooling1D": "MaxPooling",
    "MaxPooling2D": "MaxPooling",
    "MaxPooling3D": "MaxPooling",
    "AveragePooling1D": "AveragePooling",
    "AveragePooling2D": "AveragePooling",
    "AveragePooling3D": "AveragePooling",
}
# Global pooling type → its reduction.
REDUCTIONS = {
    "GlobalAveragePooling1D": "mean",
    "GlobalAveragePooling2D": "mean",
    "GlobalAveragePooling3D": "mean",
    "GlobalMaxPooling1D": "max",
    "GlobalMaxPooling2D": "max",
    "GlobalMaxPooling3D": "max",
}


@describes(*POOLS)
def describe_pooling(node: Node) -> Call:
    """Max/AveragePooling1D/2D/3D(pool_size=2, strides=None, padding=valid|same, data_format)
    → ``MaxPooling`` or ``AveragePooling``."""
    a = node.physical_args
    strides = tuple(a["strides"] or a["pool_size"])
    native = native_pooling(node, tuple(a["pool_size"]), strides)
    if native is not None:
        return native
    window = {"pool_size": tuple(a["pool_size"]), "strides": strides}
    more = {"padding": a["padding"], "data_format": a["data_format"]}
    return call(POOL_CLASSES[node.type], **window, **more)


def native_pooling(node: Node, size: tuple[int, ...], strides: tuple[int, ...]) -> Call | None:
    """``nn.MaxPool*d`` / ``nn.AvgPool*d`` (padding left out of the average, as TensorFlow
    does) on channels-first data, when TensorFlow's padding is even; else ``None``."""
    a = node.physical_args
    if a["data_format"] != "channels_first":
        return None
    pads = (0,) * len(size)
    if a["padding"] == "same":
        if None in node.input_shape:
            return None
        sizes = node.known(
            node.input_shape[1:]
            if node.args["data_format"] == "channels_first"
            else node.input_shape[:-1]
        )
        totals = [
            max((-(-n // s) - 1) * s + k - n, 0)
            for n, k, s in zip(sizes, size, strides, strict=True)
        ]
        if any(t % 2 for t in totals):
            return None
        pads = tuple(t // 2 for t in totals)
    kind = "Max" if node.type.startswith("Max") else "Avg"
    more: dict[str, Any] = {} if strides == size else {"stride": compact(strides)}
    if any(pads):
        more["padding"] = compact(pads)
        if kind == "Avg":
            more["count_include_pad"] = False
    return call(f"nn.{kind}Pool{len(size)}d", compact(size), **more)


@describes(*GLOBAL_POOLS)
def describe_global_pooling(node: Node) -> Description:
    """GlobalMax/AveragePooling1D/2D/3D(data_format, keepdims=False) → ``GlobalPooling``
    over the spatial axes (the batch axis is 0)."""
    first = 2 if node.physical_args["data_format"] == "channels_first" else 1
    rank = GLOBAL_POOLS[node.type]
    reduce = REDUCTIONS[node.type]
    if first == 2:
        kind = "Avg" if reduce == "mean" else "Max"
        main = call(f"nn.Adaptive{kind}Pool{rank}d", 1)
        flat = () if node.physical_args["keepdims"] else (("flatten", call("nn.Flatten")),)
        return steps(main, (), flat)
    dims = tuple(range(first, first + rank))
    return call("GlobalPooling", reduce, dims=dims, keepdims=node.physical_args["keepdims"])
