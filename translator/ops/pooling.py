"""Pooling: Max/AveragePooling1D/2D/3D and their global forms. None has weights."""

from __future__ import annotations

from translator.ir import Node, Shape
from translator.ir.registries import conversions, no_weights, shape_rule, weight_rule
from translator.ops.conv import data_format_arg, join_channels, out_size, split_channels
from translator.spec.schema import Arg, Bool, Choice, Ints, image_axes, layer_schema

POOLS = {
    "MaxPooling1D": 1,
    "MaxPooling2D": 2,
    "MaxPooling3D": 3,
    "AveragePooling1D": 1,
    "AveragePooling2D": 2,
    "AveragePooling3D": 3,
}
GLOBAL_POOLS = {
    "GlobalAveragePooling1D": 1,
    "GlobalAveragePooling2D": 2,
    "GlobalAveragePooling3D": 3,
    "GlobalMaxPooling1D": 1,
    "GlobalMaxPooling2D": 2,
    "GlobalMaxPooling3D": 3,
}
# PyTorch's names for the same layers, accepted as `type:`.
ALIASES = {
    "AveragePooling1D": ("AvgPool1d",),
    "AveragePooling2D": ("AvgPool2d",),
    "GlobalAveragePooling1D": ("AdaptiveAvgPool1d",),
    "GlobalAveragePooling2D": ("AdaptiveAvgPool2d",),
    "GlobalMaxPooling1D": ("AdaptiveMaxPool1d",),
    "GlobalMaxPooling2D": ("AdaptiveMaxPool2d",),
    "MaxPooling1D": ("MaxPool1d",),
    "MaxPooling2D": ("MaxPool2d",),
}

for _type, _rank in POOLS.items():
    _kind = "max" if _type.startswith("Max") else "average"
    layer_schema(
        _type,
        "pooling",
        f"{_rank}-D {_kind} pooling over windows."
        + (" With padding same, the average leaves the padding out." if _kind == "average" else ""),
        Arg("pool_size", Ints(_rank), 2, "window size per spatial axis"),
        Arg("strides", Ints(_rank), None, "step per spatial axis (null: pool_size)"),
        Arg(
            "padding",
            Choice(("valid", "same")),
            "valid",
            "valid: none; same: output = ceil(input / stride)",
        ),
        Arg(
            "ceil_mode",
            Bool(),
            False,
            "PyTorch's ceil_mode (padding valid only): output = ceil((input − pool_size) /"
            " stride) + 1, a last window starting inside the input kept, clipped to it"
            + (" and averaged over its elements inside the input" if _kind == "average" else ""),
        ),
        data_format_arg(),
        image_axes=image_axes(_rank),
        aliases=ALIASES.get(_type, ()),
    )
for _type, _rank in GLOBAL_POOLS.items():
    layer_schema(
        _type,
        "pooling",
        f"{_type.removeprefix('Global').removesuffix(f'Pooling{_rank}D')} over all {_rank}-D"
        " spatial positions.",
        data_format_arg(),
        Arg("keepdims", Bool(), False, "keep the spatial axes with size 1"),
        image_axes=image_axes(_rank),
        aliases=ALIASES.get(_type, ()),
    )


def _pool_shape(node: Node) -> tuple[Shape, ...]:
    rank = POOLS[node.type]
    spatial, channels = split_channels(node, rank)
    a = node.args
    strides = a["strides"] or a["pool_size"]
    if a["ceil_mode"] and a["padding"] != "valid":
        raise node.shape_error(
            f"ceil_mode: true takes padding 'valid' (PyTorch's pools have no 'same');"
            f" Received: padding={a['padding']}",
            "use padding: valid with ceil_mode: true, or leave ceil_mode out",
        )
    size = ceil_size if a["ceil_mode"] else out_size
    dims = tuple(
        size(node, n, k, s, 1, a["padding"])
        for n, k, s in zip(spatial, a["pool_size"], strides, strict=True)
    )
    return (join_channels(node, dims, channels),)


def ceil_size(
    node: Node, size: int | None, kernel: int, stride: int, dilation: int, padding: str
) -> int | None:
    """Output length of one axis with PyTorch's ``ceil_mode=True`` and no padding:
    ceil((size − kernel) / stride) + 1, less the last window if it would start past the input
    (as ``torch.nn.MaxPool1d`` does; only possible when the stride exceeds the kernel)."""
    if out_size(node, size, kernel, stride, dilation, padding) is None or size is None:
        return None  # out_size refused a window larger than the input already
    return ceil_size_of(size, kernel, stride)


def ceil_extra(size: int, kernel: int, stride: int) -> int:
    """How many elements past the end of one axis the last ``ceil_mode`` window reaches (0 when
    the windows tile the input as in floor mode): the end padding that makes floor mode
    compute ceil mode's windows, always fewer than ``kernel``."""
    out = ceil_size_of(size, kernel, stride)
    return max((out - 1) * stride + kernel - size, 0)


def ceil_size_of(size: int, kernel: int, stride: int) -> int:
    """``ceil_size`` of a known length with no window larger than it."""
    out = -(-(size - kernel) // stride) + 1
    return out - 1 if (out - 1) * stride >= size else out


def _global_shape(node: Node) -> tuple[Shape, ...]:
    rank = GLOBAL_POOLS[node.type]
    _, channels = split_channels(node, rank)
    if node.args["keepdims"]:
        return (join_channels(node, (1,) * rank, channels),)
    return ((channels,),)


shape_rule(*POOLS)(_pool_shape)
shape_rule(*GLOBAL_POOLS)(_global_shape)
weight_rule(*POOLS, *GLOBAL_POOLS)(no_weights)
conversions(
    *POOLS,
    padding={
        "same": "padding same → explicit pads, any odd one at the end; max pooling pads with"
        " −inf, average pooling leaves the pads out of the count (ONNX count_include_pad=0)",
    }.get,
    ceil_mode={
        True: "ceil_mode: PyTorch ceil_mode=True, ONNX ceil_mode=1; Keras pads each axis's end"
        " for the last window (max: with −inf; average: sums over counts of the elements"
        " inside the input)",
    }.get,
)
