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

from typing import Any

from backends.torch import activation
from backends.torch.importing import MODULES, ModuleCall, Reading, Refused, module_stack, op_name
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


# Importing: ``model.py``'s TimeDistributed (time folded into the batch, the wrapped module,
# unfolded) → TimeDistributed of the layer the wrapped module's importer reads; an activation
# module after it (where ``model.py`` puts the wrapped layer's) is taken back in.
RESHAPES = ("view", "reshape", "_unsafe_view")


def _folds_time(fold: Any, unfold: Any) -> bool:
    """Whether ``fold`` merges the batch and time axes and ``unfold`` splits them again."""
    if op_name(fold) not in RESHAPES or op_name(unfold) not in RESHAPES:
        return False
    given, folded, out = (Reading.shape(n) for n in (fold.args[0], fold, unfold))
    return folded[0] == given[0] * given[1] and out[:2] == given[:2] and folded[1:] == given[2:]


@MODULES.register("TimeDistributed")
def read_time_distributed(r: Reading, call: ModuleCall) -> None:
    """``TimeDistributed(module)`` → TimeDistributed(layer: the module's layer)."""
    fold, unfold = call.nodes[0], call.nodes[-1]
    if not _folds_time(fold, unfold):
        raise Refused("a TimeDistributed that does not fold time into the batch")
    inner = [n for n in call.nodes[1:-1] if len(module_stack(n)) > len(module_stack(fold))]
    path, cls = module_stack(inner[0])[len(module_stack(fold))][1:] if inner else ("", "")
    reader = MODULES.get(cls)
    if reader is None or len(inner) != len(call.nodes) - 2:
        raise Refused(f"no importer for the wrapped module ({cls or 'none'})")
    r.refs[fold] = r.value(fold.args[0])
    count = len(r.layers)
    reader(r, ModuleCall(path, cls, inner))
    if len(r.layers) != count + 1 or "type" not in r.layers[-1]:
        raise Refused("the wrapped module is not one layer")
    entry = r.layers.pop()
    del r.sources[entry["name"]]
    layer = {k: v for k, v in entry.items() if k not in ("name", "inputs")}
    name, output = activation.folded(r, unfold)
    if name is not None and layer.get("activation") is None:
        layer["activation"] = name
    elif name is not None:
        raise Refused("two activations after the wrapped layer")
    r.add(call, {"type": "TimeDistributed", "layer": layer}, [fold.args[0]], output)
