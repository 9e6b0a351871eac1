"""Transposed convolutions: Conv1DTranspose, Conv2DTranspose, Conv3DTranspose.

Keras (TensorFlow backend) computes a transposed convolution as the exact adjoint of a forward
convolution whose input has the transposed output's size: the full result, of length
``(n - 1) * stride + dilated_kernel``, is taken from the forward convolution's leading padding
on (``padding: same`` → ``total // 2``, TensorFlow's split; ``valid`` → 0), for as many
elements as Keras's output size says, zeros beyond it (before the bias). PyTorch's own
``padding``/``output_padding`` can only trim both ends equally, which cannot express every
Keras case, so each layer (a subclass of ``nn.ConvTransposeNd``, keeping ``weight`` (in,
filters, *k) and ``bias``) computes the full result and crops or pads it explicitly. The
modules are the standalone ones (``backends/torch/standalone/resampling.py``) that ``export``
copies into ``model.py``.
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
)
from backends.torch.standalone.resampling import keras_window
from translator.ir import Node
from translator.ops.conv_transpose import TRANSPOSES


@describes(*TRANSPOSES)
def describe_conv_transpose(node: Node) -> Description:
    """Conv1D/2D/3DTranspose(filters, kernel_size, strides=1, padding=valid|same,
    output_padding=None, data_format, dilation_rate=1, activation=None, use_bias=True)
    → on channels-first data, when PyTorch's ``padding``/``output_padding`` cut the same
    window as Keras, ``nn.ConvTranspose1d/2d/3d`` then the activation's module; otherwise
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


def native_trims(node: Node) -> tuple[tuple[int, int], ...] | None:
    """PyTorch's ``(padding, output_padding)`` per spatial axis giving Keras's window of the
    full transposed result, on channels-first data with known sizes; ``None`` where they
    cannot (PyTorch trims both ends alike and appends fewer than ``max(stride, dilation)``)."""
    a = node.physical_args
    if a["data_format"] != "channels_first" or None in node.input_shape:
        return None
    rank = len(a["kernel_size"])
    spec = node.args["data_format"] == "channels_first"
    sizes = node.input_shape[1:] if spec else node.input_shape[:-1]
    paddings = a["output_padding"] or (None,) * rank
    window = zip(sizes, a["kernel_size"], a["strides"], a["dilation_rate"], paddings, strict=True)
    trims = []
    for n, k, s, d, p in window:
        crop, extra = keras_window(int(n or 0), k, s, d, a["padding"], p)
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
