"""Merge layers: Add and Concatenate. Neither has weights."""

from __future__ import annotations

import torch
from torch import nn

from backends.torch.model import BUILDERS
from translator.ir import Node


class Add(nn.Module):
    """Element-wise sum of two or more inputs of the same shape."""

    def forward(self, *inputs: torch.Tensor) -> torch.Tensor:
        return torch.stack(inputs).sum(dim=0)


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


@BUILDERS.register("Concatenate")
def build_concatenate(node: Node) -> nn.Module:
    """Concatenate(axis=-1) → ``Concatenate``."""
    return Concatenate(node.args["axis"])
