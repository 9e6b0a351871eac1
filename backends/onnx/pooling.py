"""Pooling: Max/AveragePooling1D/2D/3D and their global forms.

Windowed pools run channels-first (ONNX's MaxPool/AveragePool layout), transposed like the
convolutions. Global pools reduce the spatial axes in place, in whichever layout the spec
uses, so they need no transpose.
"""

from __future__ import annotations

from backends.onnx.conv import PADDING, spatial_axes, to_channels_first, to_spec_layout
from backends.onnx.model import BUILDERS, Layer

# Layer type → (ONNX operator, extra attributes).
POOL_OPS: dict[str, tuple[str, dict[str, int]]] = {
    "MaxPooling1D": ("MaxPool", {}),
    "MaxPooling2D": ("MaxPool", {}),
    "MaxPooling3D": ("MaxPool", {}),
    # count_include_pad=0: with padding "same" TF averages over the real elements only.
    "AveragePooling1D": ("AveragePool", {"count_include_pad": 0}),
    "AveragePooling2D": ("AveragePool", {"count_include_pad": 0}),
    "AveragePooling3D": ("AveragePool", {"count_include_pad": 0}),
}
GLOBAL_OPS: dict[str, str] = {
    "GlobalAveragePooling1D": "ReduceMean",
    "GlobalAveragePooling2D": "ReduceMean",
    "GlobalAveragePooling3D": "ReduceMean",
    "GlobalMaxPooling1D": "ReduceMax",
    "GlobalMaxPooling2D": "ReduceMax",
    "GlobalMaxPooling3D": "ReduceMax",
}


@BUILDERS.register(*POOL_OPS)
def build_pool(layer: Layer, inputs: list[str]) -> list[str]:
    """Max/AveragePooling1D/2D/3D(pool_size=2, strides=None, padding="valid", data_format)."""
    a = layer.args
    op_type, extra = POOL_OPS[layer.node.type]
    size = list(a["pool_size"])
    strides = list(a["strides"] or size)
    rank = len(size)
    x = to_channels_first(layer, inputs[0], rank)
    y = layer.op(
        op_type,
        [x],
        kernel_shape=size,
        strides=strides,
        **PADDING[a["padding"]](size, strides, [1] * rank),
        **extra,
    )
    return [to_spec_layout(layer, y, rank)]


@BUILDERS.register(*GLOBAL_OPS)
def build_global_pool(layer: Layer, inputs: list[str]) -> list[str]:
    """GlobalAverage/MaxPooling1D/2D/3D(data_format, keepdims=False)."""
    rank = len(layer.node.input_shape) - 1
    axes = layer.ints("axes", spatial_axes(layer, rank))
    keep = int(layer.args["keepdims"])
    return [layer.op(GLOBAL_OPS[layer.node.type], [inputs[0], axes], keepdims=keep)]
