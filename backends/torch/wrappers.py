"""Wrappers: TimeDistributed and Bidirectional.

TimeDistributed keeps the wrapped module as ``.layer`` (so its tensors are ``layer.weight``,
...). Bidirectional is PyTorch's own two-direction RNN (tensors ``*_reverse``) — or the
two-direction ``CustomRecurrent`` where no native module is exact — merged as Keras merges:
the backward sequence in time order, and without ``return_sequences`` the forward direction's
last step and the backward direction's final state. A wrapped layer with ``go_backwards: true``
reverses the input of both directions (tf.keras 2's rule, backward = not go_backwards; Keras 3
refuses to build that configuration at all). ``TimeDistributed`` and ``merge_directions``
are the standalone ones (``backends/torch/standalone/``) that ``export`` copies into ``model.py``.
"""

from __future__ import annotations

from functools import partial

from torch import nn

from backends.torch.model import BUILDERS
from backends.torch.recurrent import make_recurrent
from backends.torch.standalone.layers import TimeDistributed
from backends.torch.standalone.recurrent import merge_directions
from translator.ir import Node


@BUILDERS.register("TimeDistributed")
def build_time_distributed(node: Node) -> nn.Module:
    """TimeDistributed(layer) → ``TimeDistributed`` holding the wrapped layer's module."""
    inner = node.inner
    if inner is None:  # the loader guarantees a wrapped layer; this is a translator bug
        raise TypeError(f"{node.name}: TimeDistributed without a wrapped layer")
    return TimeDistributed(BUILDERS[inner.type](inner))


@BUILDERS.register("Bidirectional")
def build_bidirectional(node: Node) -> nn.Module:
    """Bidirectional(layer: SimpleRNN|LSTM|GRU, merge_mode=concat|sum|mul|ave|null)
    → the wrapped RNN with ``bidirectional=True``."""
    inner = node.inner
    if inner is None:  # the loader guarantees a wrapped layer; this is a translator bug
        raise TypeError(f"{node.name}: Bidirectional without a wrapped layer")
    select = partial(
        merge_directions,
        mode=node.args["merge_mode"],
        return_sequences=inner.args["return_sequences"],
    )
    return make_recurrent(inner, True, select)
