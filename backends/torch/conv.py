"""Convolutions: Conv1D, Conv2D and Conv3D, plus the layout and padding helpers that pooling,
depthwise and separable convolutions share.

PyTorch convolves channels-first tensors and pads symmetrically, so each layer (a subclass of
``nn.Conv1d``/``nn.Conv2d``/``nn.Conv3d``, keeping the names ``weight`` and ``bias``) moves the
channel axis in and out around itself when the spec is channels-last, and pads explicitly the way
TensorFlow does: for ``same`` the extra row/column goes at the end; ``causal`` pads
``dilation * (kernel - 1)`` at the start. The modules and helpers are the standalone ones
(``backends/torch/standalone/spatial.py``) that ``export`` copies into ``model.py``; the
builders here derive their arguments from the IR (as ``standalone/emitters.py`` does).
"""

from __future__ import annotations

from functools import partial

from torch import nn

from backends.torch.model import BUILDERS
from backends.torch.standalone.emitters import WINDOW, arguments, channels
from backends.torch.standalone.spatial import (
    Conv1D,
    Conv2D,
    Conv3D,
    KerasConv,
    explicit_pads,
    to_channels_first,
    to_spec_layout,
)
from translator.ir import Node

__all__ = ["PADDINGS", "KerasConv", "Pads", "to_channels_first", "to_spec_layout"]

Pads = list[int]  # torch.nn.functional.pad order: last axis first, (before, after) per axis
# Padding mode → its ``F.pad`` amounts for (sizes, kernel, strides, dilation).
PADDINGS = {mode: partial(explicit_pads, mode) for mode in ("valid", "same", "causal")}
CONVS: dict[str, type[KerasConv]] = {"Conv1D": Conv1D, "Conv2D": Conv2D, "Conv3D": Conv3D}


@BUILDERS.register(*CONVS)
def build_conv(node: Node) -> nn.Module:
    """Conv1D/2D/3D(filters, kernel_size, strides=1, padding=valid|same|causal (causal:
    Conv1D only), data_format, dilation_rate=1, groups=1, activation=None, use_bias=True)
    → ``Conv1D/2D/3D``."""
    more = arguments(node, "filters", *WINDOW, "groups", "activation", "use_bias")
    return CONVS[node.type](channels(node), **more)
