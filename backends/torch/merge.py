"""Merge layers: Add, Multiply, Subtract, Average, Maximum, Minimum and Concatenate. None has
weights.

The element-wise merges fold their inputs left to right, as Keras's ``_merge_function`` does
(Average divides the running sum by the number of inputs at the end).
"""

from __future__ import annotations

from collections.abc import Callable
from functools import reduce

import torch
from torch import nn

from backends.torch.model import BUILDERS
from translator.ir import Node


class Add(nn.Module):
    """Element-wise sum of two or more inputs of the same shape."""

    def forward(self, *inputs: torch.Tensor) -> torch.Tensor:
        return torch.stack(inputs).sum(dim=0)


def average(*inputs: torch.Tensor) -> torch.Tensor:
    """Keras's Average: the inputs summed in order, divided by their number."""
    return reduce(torch.add, inputs) / len(inputs)


def fold(step: Callable[[torch.Tensor, torch.Tensor], torch.Tensor]) -> Callable[..., torch.Tensor]:
    """``step`` applied left to right over the inputs."""
    return lambda *inputs: reduce(step, inputs)


# Layer type → the merge over its inputs (Subtract has exactly two, checked by the IR).
MERGES: dict[str, Callable[..., torch.Tensor]] = {
    "Multiply": fold(torch.mul),
    "Subtract": fold(torch.sub),
    "Average": average,
    "Maximum": fold(torch.maximum),
    "Minimum": fold(torch.minimum),
}


class Elementwise(nn.Module):
    """Multiply, Subtract, Average, Maximum or Minimum over inputs of the same shape."""

    def __init__(self, kind: str) -> None:
        super().__init__()
        self.kind = kind
        self.merge = MERGES[kind]

    def forward(self, *inputs: torch.Tensor) -> torch.Tensor:
        return self.merge(*inputs)

    def extra_repr(self) -> str:
        return self.kind


class Concatenate(nn.Module):
    """Joins inputs along ``axis`` (the batch axis is 0, as in Keras)."""

    def __init__(self, axis: int) -> None:
        super().__init__()
        self.axis = axis

    def forward(self, *inputs: torch.Tensor) -> torch.Tensor:
        return torch.cat(inputs, dim=self.axis)

    def extra_repr(self) -> str:
        return f"axis={self.axis}"


@BUILDERS.register("Add")
def build_add(node: Node) -> nn.Module:
    """Add() → ``Add``."""
    return Add()


@BUILDERS.register(*MERGES)
def build_elementwise(node: Node) -> nn.Module:
    """Multiply/Subtract/Average/Maximum/Minimum() → ``Elementwise``."""
    return Elementwise(node.type)


@BUILDERS.register("Concatenate")
def build_concatenate(node: Node) -> nn.Module:
    """Concatenate(axis=-1) → ``Concatenate``."""
    return Concatenate(node.args["axis"])
