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

from torch import nn

from backends.torch.model import BUILDERS
from backends.torch.standalone.emitters import WINDOW, arguments, channels
from backends.torch.standalone.resampling import (
    Conv1DTranspose,
    Conv2DTranspose,
    Conv3DTranspose,
    KerasConvTranspose,
)
from translator.ir import Node
from translator.ops.conv_transpose import TRANSPOSES

TRANSPOSE_CLASSES: dict[str, type[KerasConvTranspose]] = {
    "Conv1DTranspose": Conv1DTranspose,
    "Conv2DTranspose": Conv2DTranspose,
    "Conv3DTranspose": Conv3DTranspose,
}


@BUILDERS.register(*TRANSPOSES)
def build_conv_transpose(node: Node) -> nn.Module:
    """Conv1D/2D/3DTranspose(filters, kernel_size, strides=1, padding=valid|same,
    output_padding=None, data_format, dilation_rate=1, activation=None, use_bias=True)."""
    more = arguments(node, *WINDOW, "output_padding", "activation", "use_bias")
    return TRANSPOSE_CLASSES[node.type](channels(node), node.args["filters"], **more)
