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
from backends.torch.standalone.assemble import Call, call
from backends.torch.standalone.describe import WINDOW, arguments, channels
from translator.ir import Node
from translator.ops.conv_transpose import TRANSPOSES


@describes(*TRANSPOSES)
def describe_conv_transpose(node: Node) -> Call:
    """Conv1D/2D/3DTranspose(filters, kernel_size, strides=1, padding=valid|same,
    output_padding=None, data_format, dilation_rate=1, activation=None, use_bias=True)
    → ``Conv1D/2D/3DTranspose`` (the runtime class of the type's name)."""
    more = arguments(node, *WINDOW, "output_padding", "activation", "use_bias")
    return call(node.type, channels(node), node.physical_args["filters"], **more)
