"""Convolutions: Conv1D, Conv2D and Conv3D.

PyTorch convolves channels-first tensors and pads symmetrically, so each layer (a subclass of
``nn.Conv1d``/``nn.Conv2d``/``nn.Conv3d``, keeping the names ``weight`` and ``bias``) moves the
channel axis in and out around itself when the spec is channels-last, and pads explicitly the way
TensorFlow does: for ``same`` the extra row/column goes at the end; ``causal`` pads
``dilation * (kernel - 1)`` at the start. The modules (and their layout and padding helpers) are the standalone ones
(``backends/torch/standalone/spatial.py``) that ``export`` copies into ``model.py``; the
description here derives their arguments from the IR.
"""

from __future__ import annotations

from backends.torch.model import describes
from backends.torch.standalone.assemble import Description, call, steps
from backends.torch.standalone.describe import (
    WINDOW,
    activation_steps,
    arguments,
    channels,
    compact,
    pad_steps,
)
from translator.ir import Node
from translator.ir.layout import same_pads
from translator.ops.conv import CONVS


@describes(*CONVS)
def describe_conv(node: Node) -> Description:
    """Conv1D/2D/3D(filters, kernel_size, strides=1, padding=valid|same|causal (causal:
    Conv1D only), data_format, dilation_rate=1, groups=1, activation=None, use_bias=True)
    → on channels-first data, ``nn.Conv1d/2d/3d`` (symmetric padding as its ``padding``,
    uneven padding as one ``nn.ZeroPad*d`` before it) then the activation's module; on
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
    a = node.physical_args
    pairs = window_pads(node) or ()
    even = all(before == after for before, after in pairs)
    options = {
        "stride": compact(a["strides"]),
        "padding": compact(before for before, _ in pairs) if even else 0,
        "dilation": compact(a["dilation_rate"]),
        "groups": groups,
        "bias": a["use_bias"],
    }
    defaults = {"stride": 1, "padding": 0, "dilation": 1, "groups": 1, "bias": True}
    kept = {k: v for k, v in options.items() if v != defaults[k]}
    rank = len(a["kernel_size"])
    sizes = (ins, outs, compact(a["kernel_size"]))
    main = call(f"nn.Conv{rank}d", *sizes, **kept)
    return steps(main, () if even else pad_steps(pairs), activation_steps(a["activation"]))


def window_pads(node: Node) -> tuple[tuple[int, int], ...] | None:
    """The zeros (before, after) per spatial axis of a window layer on channels-first data,
    as TensorFlow pads it; ``None`` where no native module computes it exactly
    (channels-last data, causal padding, "same" with strides over sizes not known)."""
    a = node.physical_args
    if a["data_format"] != "channels_first" or a["padding"] == "causal":
        return None
    if a["padding"] == "valid":
        return ((0, 0),) * len(a["kernel_size"])
    if None in node.input_shape and any(s > 1 for s in a["strides"]):
        return None
    return same_pads(node, "torch")
