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

from backends.torch.model import describe, describes
from backends.torch.recurrent import native_is_exact, recurrent_call, torch_module
from backends.torch.standalone.assemble import Description, Steps, as_steps, call, steps
from translator.ir import Node
from translator.ops.recurrent import GATES


@describes("TimeDistributed")
def describe_time_distributed(node: Node) -> Description:
    """TimeDistributed(layer) → ``TimeDistributed`` holding the wrapped layer's module (its
    description, nested); the wrapped layer's padding and activation steps, which work on
    the trailing axes, run around the wrapper."""
    if node.wrapped.type in GATES:  # the whole recurrence, its output shaped inside the wrapper
        wrapped = node.wrapped
        return call("TimeDistributed", recurrent_call(wrapped, native_is_exact(wrapped)))
    inner = as_steps(describe(node.wrapped))
    return steps(call("TimeDistributed", inner.main), inner.before, inner.after)


@describes("Bidirectional")
def describe_bidirectional(node: Node) -> Description:
    """Bidirectional(layer: SimpleRNN|LSTM|GRU, merge_mode=concat|sum|mul|ave|null)
    → the wrapped RNN with ``bidirectional=True`` and the merge mode."""
    inner = node.wrapped
    exact = native_is_exact(inner)
    concat = node.args["merge_mode"] == "concat" and inner.args["return_sequences"]
    if exact and concat and not inner.args["go_backwards"]:
        # PyTorch's two-direction output is Keras's concatenation, step by step.
        return Steps(torch_module(inner, bidirectional=True), take="sequence")
    two_directions = {"bidirectional": True, "merge_mode": node.args["merge_mode"]}
    return recurrent_call(inner, exact, **two_directions)
