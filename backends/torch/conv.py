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
from backends.torch.standalone.assemble import Call, call
from backends.torch.standalone.describe import WINDOW, arguments, channels
from translator.ir import Node
from translator.ops.conv import CONVS


@describes(*CONVS)
def describe_conv(node: Node) -> Call:
    """Conv1D/2D/3D(filters, kernel_size, strides=1, padding=valid|same|causal (causal:
    Conv1D only), data_format, dilation_rate=1, groups=1, activation=None, use_bias=True)
    → ``Conv1D/2D/3D`` (the runtime class of the type's name)."""
    more = arguments(node, "filters", *WINDOW, "groups", "activation", "use_bias")
    return call(node.type, channels(node), **more)
