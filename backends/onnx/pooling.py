"""Pooling: Max/AveragePooling1D/2D/3D and their global forms.

Windowed pools run channels-first (ONNX's MaxPool/AveragePool layout), transposed like the
convolutions. Global pools reduce the spatial axes in place, in whichever layout the spec
uses, so they need no transpose.
"""

from __future__ import annotations

import onnx

from backends.onnx.conv import (
    PADDING,
    kept_axes,
    seen,
    spatial_axes,
    squeezed_axes,
    to_channels_first,
    to_spec_layout,
    window,
    zero_padded,
)
from backends.onnx.importing import (
    RECOGNISERS,
    Reading,
    Refused,
    attributes,
    channels_first_axes,
    spatial_axes_of,
)
from backends.onnx.model import BUILDERS, Layer
from backends.onnx.reshape import reshapes_to

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
    """Max/AveragePooling1D/2D/3D(pool_size=2, strides=None, padding="valid",
    ceil_mode=False, data_format); ceil_mode as ONNX's own (``count_include_pad=0``: a
    clipped last window averages its elements inside the input, as PyTorch does)."""
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
        **({"ceil_mode": 1} if a["ceil_mode"] else {}),
    )
    return [to_spec_layout(layer, y, rank)]


@BUILDERS.register(*GLOBAL_OPS)
def build_global_pool(layer: Layer, inputs: list[str]) -> list[str]:
    """GlobalAverage/MaxPooling1D/2D/3D(data_format, keepdims=False)."""
    rank = len(layer.node.input_shape) - 1
    axes = layer.ints("axes", spatial_axes(layer, rank))
    keep = int(layer.args["keepdims"])
    return [layer.op(GLOBAL_OPS[layer.node.type], [inputs[0], axes], keepdims=keep)]


# Importing: MaxPool / AveragePool → MaxPooling / AveragePooling (pads equal to TF's "same"
# are ``padding: same``; an average that counts zero pads gets a ZeroPadding layer first);
# GlobalAveragePool / GlobalMaxPool → the global pools, keeping the size-1 axes unless a
# Flatten follows (which the pool then takes in, as a person writes it).
POOL_TYPES = {"MaxPool": "MaxPooling", "AveragePool": "AveragePooling"}
# Operators whose values are never negative: a max over them is the same with zero pads as
# with ONNX's -inf pads (ResNet's stem: Relu, then MaxPool with pads 1).
NON_NEGATIVE = ("Relu", "Sigmoid", "Softplus")


def _non_negative(r: Reading, tensor: str) -> bool:
    """Whether ``tensor`` (through transposes) is never negative: a NON_NEGATIVE operator's
    output, or a Clip's with a lower bound of 0 or more."""
    producer = r.source.producers.get(tensor)
    while producer is not None and producer.op_type == "Transpose":
        producer = r.source.producers.get(producer.input[0])
    if producer is None or producer.op_type != "Clip":
        return producer is not None and producer.op_type in NON_NEGATIVE
    low = r.const(producer.input[1]) if len(producer.input) > 1 and producer.input[1] else None
    return low is not None and float(low) >= 0


GLOBAL_TYPES = {"GlobalAveragePool": "GlobalAveragePooling", "GlobalMaxPool": "GlobalMaxPooling"}


@RECOGNISERS.register(*POOL_TYPES)
def read_pool(r: Reading, node: onnx.NodeProto) -> None:
    """A windowed pool on channels-first data (ceil_mode without pads, or where it changes
    nothing)."""
    a = attributes(node)
    x = r.view(node.input[0])
    kept = kept_axes(node, x, list(a["kernel_shape"]))
    kernel, rank = [a["kernel_shape"][i] for i in kept], len(kept)
    r.expects(
        seen(x, kept), channels_first_axes(r.data_format, rank + 2), "ONNX pools channels first"
    )
    args = window(r, node, list(a["kernel_shape"]), kept)
    if any(d != 1 for d in args.pop("dilation_rate")):
        raise Refused("a dilated pooling window has no spec equivalent")
    pads = args.pop("pads")
    zeros_kept = _non_negative(r, node.input[0])  # zero pads then act as -inf pads
    maximum = node.op_type == "MaxPool"
    if (
        pads is not None
        and not (maximum and zeros_kept)
        and (maximum or not a.get("count_include_pad", 0))
    ):
        raise Refused(f"pads {pads} are neither none nor TensorFlow's same")
    if pads is not None:
        x = zero_padded(r, node, x, pads)
    if a.get("ceil_mode", 0) and not _floor_shape(r, node, kept, kernel, args["strides"]):
        if args["padding"] != "valid" or pads is not None:
            raise Refused("ceil_mode=1 with pads (the spec's ceil_mode pads nothing)")
        args["ceil_mode"] = True  # PyTorch's ceil mode, which ONNX's is
    if args["strides"] == kernel:
        del args["strides"]  # the spec's default: the pool size
    layer = {"type": f"{POOL_TYPES[node.op_type]}{rank}D", "pool_size": kernel, **args}
    r.add(node, layer, [x], {node.output[0]: x.axes})


def _floor_shape(
    r: Reading, node: onnx.NodeProto, kept: list[int], kernel: list[int], strides: list[int]
) -> bool:
    """Whether the output's inferred sizes over the ``kept`` spatial axes are floor mode's."""
    given, out = r.shape(node.input[0]), r.shape(node.output[0])
    if given is None or out is None or None in given[2:]:
        return False
    sizes = [given[2 + i] for i in kept]
    floor = [(n - k) // s + 1 for n, k, s in zip(sizes, kernel, strides, strict=True)]  # type: ignore[operator]
    return [out[2 + i] for i in kept] == floor


def _flattens(r: Reading, node: onnx.NodeProto) -> bool:
    """A Flatten(axis=1), a Reshape to (batch, features), or a Squeeze of every axis after
    them (tf2onnx's global pools)."""
    rank = len(r.shape(node.input[0]) or ())
    if node.op_type == "Squeeze":
        return squeezed_axes(r, node, rank) == set(range(2, rank)) if rank > 2 else False
    if node.op_type == "Flatten":
        return bool(attributes(node).get("axis", 1) == 1)
    return reshapes_to(r, node, 2)


def global_pool(r: Reading, node: onnx.NodeProto, kind: str, keepdims: bool = True) -> None:
    """A global pool of ``kind`` over every spatial axis; keepdims unless the only reader
    flattens the result (then the pool takes it in)."""
    x = r.view(node.input[0])
    rank = len(x.axes) - 2
    out, axes = node.output[0], x.axes
    reader = r.reader(out)
    if not keepdims:
        axes = (0, 1)
    elif reader is not None and _flattens(r, reader):
        r.claim(reader)
        out, axes = reader.output[0], (0, 1)
    layer = {"type": f"{kind}{rank}D", "keepdims": axes == x.axes}
    r.add(node, layer, [x], {out: axes})


@RECOGNISERS.register(*GLOBAL_TYPES)
def read_global_pool(r: Reading, node: onnx.NodeProto) -> None:
    """GlobalAveragePool / GlobalMaxPool → GlobalAveragePooling / GlobalMaxPooling."""
    x = r.view(node.input[0])
    r.expects(x, channels_first_axes(r.data_format, len(x.axes)), "ONNX pools channels first")
    global_pool(r, node, GLOBAL_TYPES[node.op_type])


REDUCE_TYPES = {"ReduceMean": "GlobalAveragePooling", "ReduceMax": "GlobalMaxPooling"}


@RECOGNISERS.register(*REDUCE_TYPES)
def read_reduce(r: Reading, node: onnx.NodeProto) -> None:
    """A mean or max over exactly the spec's spatial axes: a global pool (PyTorch's
    adaptive pool to size 1 exports one, the translator's global pools too)."""
    a = attributes(node)
    given = a.get("axes")
    if given is None and len(node.input) > 1:
        value = r.const(node.input[1])
        given = None if value is None else value.tolist()
    x = r.view(node.input[0])
    rank = len(x.axes)
    spatial = spatial_axes_of(r.data_format, rank)
    if given is None or sorted(x.axes[i % rank] or 0 for i in given) != list(spatial):
        raise Refused(f"it reduces other axes than the spec's spatial ones {spatial}")
    if not a.get("keepdims", 1) and [i for i in x.axes if i not in spatial] != [
        0,
        rank - 1 if spatial[0] == 1 else 1,
    ]:
        raise Refused("the axes it keeps are not (batch, channels) in order")
    global_pool(r, node, REDUCE_TYPES[node.op_type], bool(a.get("keepdims", 1)))
