"""Turning a layer's description into its module, and the helpers descriptions share.

A layer type's description (registered once, in its family module ``backends/torch/<family>.py``
with ``@describes``) is the ``Call`` of its standalone module: the runtime class (``layers``,
``spatial``, ``resampling``, ``normalization``, ``attention``, ``recurrent``) with plain
arguments taken from the IR. ``export`` writes that call into the generated ``__init__``;
the backend's builder ``instantiate``\\ s it. Not copied into ``model.py``.
"""

from __future__ import annotations

import importlib
from functools import cache
from typing import Any

from torch import nn

from backends.torch.standalone.assemble import MODULES, Call, call
from backends.torch.standalone.attention import causal_mask, roles_of
from backends.torch.standalone.layers import ACTIVATIONS
from translator.ir import Node
from translator.ops.conv import split_channels
from translator.ops.normalization import normalized_axes

WINDOW = ("kernel_size", "strides", "padding", "data_format", "dilation_rate")


def activation_steps(name: str | None) -> tuple[tuple[str, Call], ...]:
    """A layer's activation as the native module after it (``("relu", nn.ReLU())``); none
    for a linear one."""
    if name in (None, "linear"):
        return ()
    cls, kwargs = ACTIVATIONS[name]
    return ((name, call(cls, **kwargs)),)


def compact(values: Any) -> Any:
    """``3`` for ``(3, 3)``: a window argument as torchvision writes it."""
    values = tuple(values)
    return values[0] if len(set(values)) == 1 else values


def pad_steps(pairs: tuple[tuple[int, int], ...]) -> tuple[tuple[str, Call], ...]:
    """Uneven zero padding (``(before, after)`` per spatial axis) as one ``nn.ZeroPad1d/2d/3d``
    before the layer; none when there is nothing to pad."""
    if not any(p for pair in pairs for p in pair):
        return ()
    flat = tuple(p for pair in reversed(pairs) for p in pair)  # last axis first, as F.pad
    return (("pad", call(f"nn.ZeroPad{len(pairs)}d", flat)),)


def arguments(node: Node, *names: str) -> dict[str, Any]:
    """The node's arguments ``names``, as keyword arguments of the same names."""
    return {name: node.physical_args[name] for name in names}


def channels(node: Node) -> int | None:
    """The input's channel count for the node's data_format."""
    return split_channels(node, len(node.args["kernel_size"]))[1]


def trailing_axes(node: Node) -> tuple[tuple[int, ...], dict[str, Any]]:
    """A trailing-axes norm's normalized shape, and its ``axes`` and ``rank`` arguments
    (counting the batch axis)."""
    axes = normalized_axes(node)
    shape = node.known(tuple(node.input_shape[i] for i in axes))
    where: dict[str, Any] = {"axes": tuple(i + 1 for i in axes), "rank": len(node.input_shape) + 1}
    return shape, where


@cache
def namespace() -> dict[str, Any]:
    """The names a generated ``model.py`` sees: every runtime module's top level (their
    definitions and their imports, ``nn`` included), as ``assemble`` copies them into one
    namespace. A description names its callable the way ``model.py`` does, so the backend
    resolves it here, in the same namespace, rather than through a second table."""
    found: dict[str, Any] = {}
    for module in MODULES:
        found.update(vars(importlib.import_module(f"backends.torch.standalone.{module}")))
    return found


def resolve(name: str) -> Any:
    """The runtime callable ``name`` (``Conv2D``, ``make_activation``, ``nn.Dropout``)."""
    head, *attributes = name.split(".")
    found = namespace()[head]
    for attribute in attributes:
        found = getattr(found, attribute)
    return found


def fed(feed: str, module: nn.Module, inputs: list[Any]) -> Any:
    """``module`` called on a layer's inputs as ``model.py`` calls it (``FEEDS[feed]``): as
    they come, reversed in time (a recurrent layer going backwards), or in
    ``nn.MultiheadAttention``'s (query, key, value) order, without the attention weights
    and, for causal attention, with Keras's causal mask."""
    if not feed:
        return module(*inputs)
    if feed == "backwards":
        return module(inputs[0].flip(1))
    query, value, key = roles_of(*inputs, *(None,) * (3 - len(inputs)))
    mask = None
    if feed == "causal attention":
        mask = causal_mask(query, key)
    return module(query, key, value, need_weights=False, attn_mask=mask)


def _value(value: Any) -> Any:
    return instantiate(value) if isinstance(value, Call) else value


def instantiate(description: Call) -> nn.Module:
    """The module ``description`` names, built as ``model.py`` builds it: its callable with
    the same argument values (a nested description built first, as the inner module)."""
    args = [_value(a) for a in description.args]
    kwargs = {k: _value(v) for k, v in description.kwargs}
    module: nn.Module = resolve(description.name)(*args, **kwargs)
    return module
