"""Pooling: Max/AveragePooling1D/2D/3D and their global forms. None has weights.

Padding ``same`` follows TensorFlow (extra element at the end): max pooling pads with -inf so
padding never wins; average pooling leaves the padding out of each window's count, as Keras
does (ONNX ``count_include_pad=0``). The modules are the standalone ones
(``backends/torch/standalone/spatial.py``) that ``export`` copies into ``model.py``.
"""

from __future__ import annotations

from backends.torch.model import describes
from backends.torch.standalone.assemble import Call, call
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
    window = {"pool_size": tuple(a["pool_size"]), "strides": strides}
    more = {"padding": a["padding"], "data_format": a["data_format"]}
    return call(POOL_CLASSES[node.type], **window, **more)


@describes(*GLOBAL_POOLS)
def describe_global_pooling(node: Node) -> Call:
    """GlobalMax/AveragePooling1D/2D/3D(data_format, keepdims=False) → ``GlobalPooling``
    over the spatial axes (the batch axis is 0)."""
    first = 2 if node.physical_args["data_format"] == "channels_first" else 1
    dims = tuple(range(first, first + GLOBAL_POOLS[node.type]))
    reduce = REDUCTIONS[node.type]
    return call("GlobalPooling", reduce, dims=dims, keepdims=node.physical_args["keepdims"])
