"""Transposed convolutions: Conv1DTranspose, Conv2DTranspose, Conv3DTranspose.

Keras (TensorFlow backend) computes a transposed convolution as the exact adjoint of a forward
convolution whose input has the transposed output's size: the full result, of length
``(n - 1) * stride + dilated_kernel``, is taken from the forward convolution's leading padding
on (``padding: same`` → ``total // 2``, TensorFlow's split; ``valid`` → 0), for as many
elements as Keras's output size says, zeros beyond it (before the bias). PyTorch's own
``padding``/``output_padding`` can only trim both ends equally: on channels-first data the
layer is a bare ``nn.ConvTranspose1d/2d/3d`` wherever that gives Keras's window (the comment
above ``native_trims`` lists the cases); elsewhere it (a subclass of ``nn.ConvTransposeNd``,
keeping ``weight`` (in, filters, *k) and ``bias``) computes the full result and crops or
pads it explicitly. The
modules are the standalone ones (``backends/torch/standalone/resampling.py``) that ``export``
copies into ``model.py``.
"""

from __future__ import annotations

from backends.torch import activation
from backends.torch.conv import per_axis
from backends.torch.importing import MODULES, ModuleCall, Reading, Refused, arg
from backends.torch.model import describes
from backends.torch.standalone.assemble import Description, call, steps
from backends.torch.standalone.describe import (
    WINDOW,
    activation_steps,
    arguments,
    channels,
    compact,
)
from backends.torch.standalone.resampling import keras_window
from translator.ir import Node
from translator.ops.conv_transpose import TRANSPOSES


@describes(*TRANSPOSES)
def describe_conv_transpose(node: Node) -> Description:
    """Conv1D/2D/3DTranspose(filters, kernel_size, strides=1, padding=valid|same,
    output_padding=None, data_format, dilation_rate=1, activation=None, use_bias=True)
    → on channels-first data, when PyTorch's ``padding``/``output_padding`` cut the same
    window as Keras (see the comment above ``native_trims``), ``nn.ConvTranspose1d/2d/3d`` then the activation's module; otherwise
    ``Conv1D/2D/3DTranspose`` (cuts Keras's window explicitly)."""
    a = node.physical_args
    trims = native_trims(node)
    if trims is None:
        more = arguments(node, *WINDOW, "output_padding", "activation", "use_bias")
        return call(node.type, channels(node), a["filters"], **more)
    options = {
        "stride": compact(a["strides"]),
        "padding": compact(p for p, _ in trims),
        "output_padding": compact(o for _, o in trims),
        "dilation": compact(a["dilation_rate"]),
        "bias": a["use_bias"],
    }
    defaults = {"stride": 1, "padding": 0, "output_padding": 0, "dilation": 1, "bias": True}
    kept = {k: v for k, v in options.items() if v != defaults[k]}
    rank = len(a["kernel_size"])
    sizes = (channels(node), a["filters"], compact(a["kernel_size"]))
    main = call(f"nn.ConvTranspose{rank}d", *sizes, **kept)
    return steps(main, (), activation_steps(a["activation"]))


# Where no ``padding``/``output_padding`` is exact: PyTorch cuts ``padding`` off both ends of
# the full result (length (n - 1)·s + D, D = dilation·(kernel - 1) + 1), Keras cuts its window
# from TensorFlow's leading padding on. With "same" (no output_padding) that window starts at
# (D - s) // 2 and is n·s long: an even D - s (kernel 3 or 5 with stride 1, kernel 4 with
# stride 2, kernel 2 with stride 2, any dilation 2 with stride 1) is ``padding=(D - s) // 2``;
# a D below the stride appends s - D zeros, ``output_padding=s - D``; an odd D - s (kernel 2
# or 4 with stride 1, kernel 3 or 5 with stride 2, kernel 4 with stride 3) would need an
# ``output_padding`` of -1, one element more cut at the end than at the start, so those
# keep ``Conv1D/2D/3DTranspose``. An ``output_padding`` that asks for a window no symmetric
# cut gives falls back the same way. The cut never depends on the input's length.


def native_trims(node: Node) -> tuple[tuple[int, int], ...] | None:
    """PyTorch's ``(padding, output_padding)`` per spatial axis giving Keras's window of the
    full transposed result, on channels-first data; ``None`` where they cannot (PyTorch
    trims both ends alike and appends fewer than ``max(stride, dilation)``)."""
    a = node.physical_args
    if a["data_format"] != "channels_first":
        return None
    rank = len(a["kernel_size"])
    paddings = a["output_padding"] or (None,) * rank
    window = zip(a["kernel_size"], a["strides"], a["dilation_rate"], paddings, strict=True)
    trims = []
    for k, s, d, p in window:
        crop, extra = keras_window(1, k, s, d, a["padding"], p)  # the same for every length
        before, append = -crop, before_after(crop, extra)
        if before < 0 or not 0 <= append < max(s, d):
            return None
        trims.append((before, append))
    return tuple(trims)


def before_after(crop: int, extra: int) -> int:
    """PyTorch's ``output_padding`` for a window cut ``crop`` (≤ 0) at the start and
    ``extra`` at the end (negative: cut; positive: appended): the padding trims ``-crop``
    at the end as well, the output padding gives back what the end keeps beyond that."""
    return extra - crop


# Importing: nn.ConvTranspose1d/2d/3d → Conv1D/2D/3DTranspose where its padding and
# output_padding cut Keras's "valid" or "same" window (``native_trims`` read backwards).


def _padding_of(
    kernel: list[int], strides: list[int], dilation: list[int], trims: list[tuple[int, int]]
) -> str:
    """``valid`` or ``same``: the Keras padding whose window PyTorch's ``trims`` cut."""
    for padding in ("valid", "same"):
        cuts = []
        for k, s, d in zip(kernel, strides, dilation, strict=True):
            crop, extra = keras_window(1, k, s, d, padding, None)
            cuts.append((-crop, before_after(crop, extra)))
        if cuts == trims:
            return padding
    raise Refused("padding and output_padding that cut neither Keras's valid nor same window")


@MODULES.register("ConvTranspose1d", "ConvTranspose2d", "ConvTranspose3d")
def read_conv_transpose(r: Reading, call: ModuleCall) -> None:
    """nn.ConvTransposeNd(in, out, k, stride, padding, output_padding, groups=1, bias,
    dilation) → ConvNDTranspose, its activation folded in."""
    node = call.op("conv_transpose1d", "conv_transpose2d", "conv_transpose3d")
    weight = Reading.shape(node.args[1])
    rank = len(weight) - 2
    if arg(node, 6, "groups", 1) != 1:
        raise Refused("a grouped transposed convolution (the spec's has no groups)")
    kernel = list(weight[2:])
    strides, dilation = (
        per_axis(arg(node, i, n, 1), rank) for i, n in ((3, "stride"), (7, "dilation"))
    )
    pads, extra = (
        per_axis(arg(node, i, n, 0), rank) for i, n in ((4, "padding"), (5, "output_padding"))
    )
    padding = _padding_of(kernel, strides, dilation, list(zip(pads, extra, strict=True)))
    name, output = activation.folded(r, node)
    layer = {"type": f"Conv{rank}DTranspose", "filters": weight[1], "kernel_size": kernel}
    layer |= {"strides": strides, "padding": padding, "dilation_rate": dilation}
    layer |= {"activation": name, "use_bias": arg(node, 2, "bias") is not None}
    r.add(call, layer, [node.args[0]], output)
