"""Merge layers: Add, Multiply, Subtract, Average, Maximum, Minimum and Concatenate. None has
weights.

The element-wise merges fold their inputs left to right, as Keras's ``_merge_function`` does
(Average divides the running sum by the number of inputs at the end). The modules are the
standalone ones (``backends/torch/standalone/layers.py``) that ``export`` copies into
``model.py``.
"""

from __future__ import annotations

from torch import nn

from backends.torch.model import BUILDERS
from backends.torch.standalone.layers import ELEMENTWISE, Add, Concatenate, Elementwise
from translator.ir import Node


@BUILDERS.register("Add")
def build_add(node: Node) -> nn.Module:
    """Add() → ``Add``."""
    return Add()


@BUILDERS.register(*ELEMENTWISE)
def build_elementwise(node: Node) -> nn.Module:
    """Multiply/Subtract/Average/Maximum/Minimum() → ``Elementwise``."""
    return Elementwise(node.type)


@BUILDERS.register("Concatenate")
def build_concatenate(node: Node) -> nn.Module:
    """Concatenate(axis=-1) → ``Concatenate``."""
    return Concatenate(node.args["axis"])
