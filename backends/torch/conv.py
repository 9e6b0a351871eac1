"""Convolutions: Conv1D, Conv2D and Conv3D.

On channels-first data (images, volumes and the sequences of a 1-D convolution spec, as the
layout pass places them, or a spec written channels first) a convolution is PyTorch's own
``nn.Conv1d/2d/3d``: TensorFlow's even "same" padding as its ``padding``, uneven padding (the
extra row/column at the end) and ``causal`` padding (``dilation * (kernel - 1)`` at the start)
as one ``nn.ZeroPad1d/2d/3d`` before it, and the activation as its own module after it. Where
no native module computes the layer (channels-last data; "same" with strides over sizes not
known) it is the standalone ``Conv1D/2D/3D`` (``backends/torch/standalone/spatial.py``, a
subclass of ``nn.Conv*d`` keeping the names ``weight`` and ``bias``), which moves the channel
axis in and out around itself and pads as TensorFlow does. ``export`` copies what a model
needs into ``model.py``; the description here derives the arguments from the IR.
"""

from __future__ import annotations

from typing import Any

from backends.torch import activation
from backends.torch.importing import (
    MODULES,
    ModuleCall,
    Reading,
    Refused,
    arg,
    module_stack,
    op_name,
)
from backends.torch.model import describes
from backends.torch.standalone.assemble import Call, Description, call, steps
from backends.torch.standalone.describe import (
    WINDOW,
    activation_steps,
    arguments,
    channels,
    compact,
    pad_steps,
)
from translator.ir import Node
from translator.ir.layout import same_pads, same_pairs
from translator.ops.conv import CONVS


@describes(*CONVS)
def describe_conv(node: Node) -> Description:
    """Conv1D/2D/3D(filters, kernel_size, strides=1, padding=valid|same|causal (causal:
    Conv1D only), data_format, dilation_rate=1, groups=1, activation=None, use_bias=True)
    → on channels-first data, ``nn.Conv1d/2d/3d`` (symmetric padding as its ``padding``,
    uneven or causal padding as one ``nn.ZeroPad*d`` before it) then the activation's
    module; on
    channels-last data, ``Conv1D/2D/3D`` (moves the channels around ``nn.Conv*d``)."""
    a = node.physical_args
    if window_pads(node) is None:
        more = arguments(node, "filters", *WINDOW, "groups", "activation", "use_bias")
        return call(node.type, channels(node), **more)
    return native_conv(node, channels(node), a["filters"], a["groups"])


def native_conv(node: Node, ins: int | None, outs: int, groups: int) -> Description:
    """``nn.Conv1d/2d/3d`` from ``ins`` to ``outs`` channels in ``groups`` with the node's
    window, TensorFlow's padding (even: the conv's ``padding``; uneven: an ``nn.ZeroPad*d``
    before it) and its activation's module after it."""
    main, before = window_conv(node, ins, outs, groups, node.physical_args["use_bias"])
    return steps(main, before, activation_steps(node.physical_args["activation"]))


def window_conv(
    node: Node, ins: int | None, outs: int, groups: int, bias: bool
) -> tuple[Call, tuple[tuple[str, Call], ...]]:
    """The ``nn.Conv1d/2d/3d`` call of the node's window (even "same" padding as its
    ``padding``), and the ``nn.ZeroPad*d`` step before it for uneven padding (else none)."""
    a = node.physical_args
    pairs = window_pads(node) or ()
    even = all(before == after for before, after in pairs)
    options = {
        "stride": compact(a["strides"]),
        "padding": compact(before for before, _ in pairs) if even else 0,
        "dilation": compact(a["dilation_rate"]),
        "groups": groups,
        "bias": bias,
    }
    defaults = {"stride": 1, "padding": 0, "dilation": 1, "groups": 1, "bias": True}
    kept = {k: v for k, v in options.items() if v != defaults[k]}
    rank = len(a["kernel_size"])
    main = call(f"nn.Conv{rank}d", ins, outs, compact(a["kernel_size"]), **kept)
    return main, () if even else pad_steps(pairs)


def window_pads(node: Node) -> tuple[tuple[int, int], ...] | None:
    """The zeros (before, after) per spatial axis of a window layer on channels-first data,
    as TensorFlow pads it (causal: ``dilation * (kernel - 1)`` before); ``None`` where no
    native module computes it exactly (channels-last data, "same" with strides over sizes
    not known)."""
    a = node.physical_args
    if a["data_format"] != "channels_first":
        return None
    if a["padding"] == "causal":
        return tuple(
            (d * (k - 1), 0) for k, d in zip(a["kernel_size"], a["dilation_rate"], strict=True)
        )
    if a["padding"] == "valid":
        return ((0, 0),) * len(a["kernel_size"])
    if None in node.input_shape and any(s > 1 for s in a["strides"]):
        return None
    return same_pads(node, "torch")


# Importing: nn.Conv1d/2d/3d → Conv1D/2D/3D. Zero pads equal to TensorFlow's "same" for the
# input's size are ``padding: same``; other pads a ZeroPadding layer before a valid
# convolution (the same function); padding modes other than zeros are refused.


def per_axis(value: Any, rank: int) -> list[int]:
    """An ATen window argument (an int, or a list of one or ``rank``) per spatial axis."""
    values = [int(v) for v in value] if isinstance(value, list | tuple) else [int(value)]
    return values * rank if len(values) == 1 else values


def padding_of(
    node: Any, padding: Any, kernel: list[int], strides: list[int], dilation: list[int]
) -> tuple[str, list[list[int]] | None]:
    """``valid`` or ``same``, and the explicit (before, after) pads when neither fits."""
    rank = len(kernel)
    if isinstance(padding, str):
        return padding, None
    pads = per_axis(padding, rank)
    if not any(pads):
        return "valid", None
    same = same_pairs(Reading.shape(node)[2:], kernel, strides, dilation)
    if same is not None and [list(p) for p in same] == [[p, p] for p in pads]:
        return "same", None
    return "valid", [[p, p] for p in pads]


def zero_padded(r: Reading, call: ModuleCall, x: Any, pads: list[list[int]]) -> Any:
    """A ZeroPadding layer before the call's layer; returns the node standing for it."""
    layer = {"type": f"ZeroPadding{len(pads)}D", "padding": pads}
    stand_in = ("padded", call.path)  # a key no fx node equals
    r.add(ModuleCall(f"{call.path}_pad", call.cls, call.nodes), layer, [x], stand_in)
    return stand_in


# F.pad as torch.export keeps it (aten.pad: input, pad, mode, value) or decomposes it.
PAD_OPS = ("pad", "constant_pad_nd")


def zeros(pad: Any) -> bool:
    """Whether a pad node pads with zeros."""
    if op_name(pad) == "pad":
        return bool(arg(pad, 2, "mode", "constant") == "constant" and not arg(pad, 3, "value"))
    return not arg(pad, 2, "value", 0)


def pad_pairs(node: Any) -> list[list[int]]:
    """The (before, after) zeros per spatial axis of a pad node (which lists them last axis
    first)."""
    flat = [int(p) for p in node.args[1]]
    return [flat[i : i + 2] for i in range(len(flat) - 2, -1, -2)]


CONV_OPS = ("conv1d", "conv2d", "conv3d")


def window_of(node: Any) -> tuple[list[int], list[int], list[int]]:
    """A convolution node's kernel, strides and dilation per spatial axis."""
    rank = len(Reading.shape(node.args[1])) - 2
    kernel = list(Reading.shape(node.args[1])[2:])
    strides = per_axis(arg(node, 3, "stride", 1), rank)
    return kernel, strides, per_axis(arg(node, 5, "dilation", 1), rank)


def folded_padding(pad: Any) -> str | None:
    """``same`` or ``causal`` when ``pad`` is the ``nn.ZeroPad*d`` that ``model.py`` writes
    before a convolution for TensorFlow's uneven "same" or causal padding (named
    ``<conv>_pad``; the convolution, or the module holding it, its only reader, padding
    nothing itself): the convolution then takes it in, as the spec wrote it. None for any
    other pad (a ZeroPadding layer)."""
    users = list(pad.users) if op_name(pad) in PAD_OPS and zeros(pad) else []
    if len(users) != 1 or op_name(users[0]) not in CONV_OPS:
        return None
    if any(int(p) for p in per_axis(arg(users[0], 4, "padding", 0), 1)):
        return None
    stacks = [module_stack(n) for n in (pad, users[0])]
    if not all(stacks) or stacks[0][-1][1] not in {f"{path}_pad" for _, path, _ in stacks[1]}:
        return None
    kernel, strides, dilation = window_of(users[0])
    pairs = [
        list(p) for p in same_pairs(Reading.shape(pad.args[0])[2:], kernel, strides, dilation) or ()
    ]
    if pad_pairs(pad) == pairs:
        return "same"
    causal = [[d * (k - 1), 0] for k, d in zip(kernel, dilation, strict=True)]
    return "causal" if len(kernel) == 1 and pad_pairs(pad) == causal else None


@MODULES.register("Conv1d", "Conv2d", "Conv3d")
def read_conv(r: Reading, call: ModuleCall) -> None:
    """nn.ConvNd(in, out, k, stride, padding, dilation, groups) → ConvND; after the
    ``nn.ZeroPad*d`` of ``folded_padding``, with its padding."""
    if len(call.nodes) != 1:
        raise Refused("a padding mode other than zeros (the spec pads with zeros)")
    node = call.op(*CONV_OPS)
    weight = Reading.shape(node.args[1])
    rank = len(weight) - 2
    _, strides, dilation = window_of(node)
    padding, pads = padding_of(
        node.args[0], arg(node, 4, "padding", [0]), list(weight[2:]), strides, dilation
    )
    x = node.args[0] if pads is None else zero_padded(r, call, node.args[0], pads)
    folded = folded_padding(node.args[0])
    if folded is not None:
        padding, x = folded, node.args[0].args[0]
    name, output = activation.folded(r, node)
    layer = {"type": f"Conv{rank}D", "filters": weight[0], "kernel_size": list(weight[2:])}
    layer |= {"strides": strides, "padding": padding, "dilation_rate": dilation}
    layer |= {"groups": arg(node, 6, "groups", 1), "activation": name}
    layer["use_bias"] = arg(node, 2, "bias") is not None
    r.add(call, layer, [x], output)
