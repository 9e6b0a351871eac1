"""Core layers: Input, Dense, Dropout, Embedding.

Each layer subclasses the native torch module so its tensors keep PyTorch's own names
(``weight``, ``bias``); an activation is a parameterless child module. A Dense tied to an
Embedding (``tie: wte``) is the custom ``TiedDense``, which owns only its bias: it takes the
Embedding's matrix after its input, which the model hands it (``backends.torch.model.tie``,
as the exported network does). The modules are the standalone ones
(``backends/torch/standalone/layers.py``) that ``export`` copies into ``model.py``.
"""

from __future__ import annotations

from typing import Any

import torch

from backends.torch import activation
from backends.torch.importing import (
    FUNCTIONS,
    MODULES,
    ModuleCall,
    Reading,
    Refused,
    arg,
    op_name,
)
from backends.torch.model import describes
from backends.torch.standalone.assemble import Call, Description, call, steps
from backends.torch.standalone.describe import activation_steps, arguments
from translator.ir import Node


@describes("Input")
def describe_input(node: Node) -> Call:
    """Input(shape, dtype=float32) → ``nn.Identity``: a model input has no weights, but every
    IR node gets a module so that measurement covers every node (export writes none: a model
    input is an argument of ``forward``)."""
    return call("nn.Identity")


@describes("Dense")
def describe_dense(node: Node) -> Description:
    """Dense(units, activation=None, use_bias=True, tie=None) → ``nn.Linear`` then the
    activation's module, or ``TiedDense`` (its bias only) when tied to an Embedding."""
    a = node.args
    if a["tie"] is not None:
        return call(
            "TiedDense", node.input_shape[-1], **arguments(node, "units", "activation", "use_bias")
        )
    bias = {} if a["use_bias"] else {"bias": False}
    main = call("nn.Linear", node.input_shape[-1], a["units"], **bias)
    return steps(main, (), activation_steps(a["activation"]))


@describes("Dropout")
def describe_dropout(node: Node) -> Call:
    """Dropout(rate, seed=0) → ``nn.Dropout`` (the identity in eval mode, as in Keras); with a
    ``noise_shape`` that broadcasts, ``BroadcastDropout`` (no torch.nn module draws one mask
    for several elements in every layout)."""
    noise = node.physical_args["noise_shape"]
    full = (None, *node.input_shape)
    if noise is None or all(n is None or n == s for n, s in zip(noise, full, strict=True)):
        return call("nn.Dropout", node.args["rate"])
    return call("BroadcastDropout", node.args["rate"], [-1 if n is None else n for n in noise])


@describes("ClassToken")
def describe_class_token(node: Node) -> Call:
    """ClassToken → ``ClassToken`` (a (1, 1, features) parameter joined in front)."""
    return call("ClassToken", node.input_shape[1])


@describes("Embedding")
def describe_embedding(node: Node) -> Call:
    """Embedding(input_dim, output_dim) → ``nn.Embedding`` (ids int32 or int64)."""
    return call("nn.Embedding", node.args["input_dim"], node.args["output_dim"])


# Importing: nn.Linear → Dense (its activation folded in), nn.Embedding → Embedding,
# nn.Dropout (and F.dropout at inference) → Dropout. The weights are the module's own.


@MODULES.register("Linear")
def read_linear(r: Reading, call: ModuleCall) -> None:
    """nn.Linear(in, out, bias) → Dense(units=out, use_bias), its activation folded in; one
    whose weight is an Embedding's table (a tied language-model head) → Dense(tie=that)."""
    node = call.op("linear")
    weight, bias = node.args[1], arg(node, 2, "bias")
    name, output = activation.folded(r, node)
    layer = {"type": "Dense", "units": Reading.shape(weight)[0], "use_bias": bias is not None}
    if weight in r.tables:
        layer["tie"] = r.tables[weight]
    r.add(call, {**layer, "activation": name}, [node.args[0]], output)


@MODULES.register("Conv1D")
def read_transposed_linear(r: Reading, call: ModuleCall) -> None:
    """transformers' Conv1D(out, in) (GPT-2's projections: a Linear whose weight is stored
    (in, out), computed as ``addmm(bias, x.view(-1, in), weight)``) → Dense(units=out), the
    weight transposed into PyTorch's (out, in) as it is read."""
    node = call.op("addmm")
    bias, flat, weight = node.args[:3]
    output = call.nodes[-1]
    if Reading.shape(output)[:-1] != Reading.shape(flat.args[0])[:-1]:
        raise Refused("its output is not shaped as its input, but for the last axis")
    name, output = activation.folded(r, output)
    layer = {"type": "Dense", "units": Reading.shape(weight)[1], "activation": name}
    added = r.add(call, layer, [flat.args[0]], output)
    r.joined[added] = {"weight": [r.key(weight)], "bias": [r.key(bias)]}
    r.transposed[added] = {"weight"}


@MODULES.register("Embedding")
def read_embedding(r: Reading, call: ModuleCall) -> None:
    """nn.Embedding(num, dim) → Embedding(input_dim=num, output_dim=dim); one looking up the
    positions 0, 1, … of the sequence (ids no input reaches: ``arange``) →
    PositionEmbedding(sequence_length=num). ``padding_idx`` changes only training (the
    row's gradient), so it is read as the same lookup."""
    node = call.op("embedding")
    rows, size = Reading.shape(node.args[0])
    positions = r.constant(node.args[1])
    if positions is not None:
        _read_positions(r, call, node, positions)
        return
    layer = {"type": "Embedding", "input_dim": rows, "output_dim": size}
    name = r.add(call, layer, [node.args[1]], node)
    r.joined[name] = {"weight": [r.key(node.args[0])]}  # tied: the program may name it lm_head
    r.tables[node.args[0]] = name


def _read_positions(r: Reading, call: ModuleCall, node: Any, positions: Any) -> None:
    """Embedding rows 0 … steps − 1, added to a layer's (batch, steps, dim) output →
    PositionEmbedding of that output (whose steps it reads)."""
    steps = positions.shape[-1]
    if positions.dim() > 2 or not bool((positions == torch.arange(steps)).all()):
        raise Refused("it looks up fixed ids other than the positions 0, 1, …")
    added = _added_to(r, node)
    rows = Reading.shape(node.args[0])[0]
    name = r.add(call, {"type": "PositionEmbedding", "sequence_length": rows}, [added], node)
    r.joined[name] = {"weight": [r.key(node.args[0])]}
    if not r.tensor(node.args[0]).requires_grad:  # a fixed table (Whisper's sinusoids)
        r.layers[-1]["trainable"] = False


PASSING = {"to", "alias"}  # no change of value on the way (a cast to the same dtype)


def _added_to(r: Reading, node: Any) -> Any:
    """The other operand of the ``+`` the node's value goes to (through casts), which a
    layer made: the token embeddings the positions are added to."""
    while True:
        users = [u for u in node.users if op_name(u) != "_assert_tensor_metadata"]
        if len(users) != 1 or op_name(users[0]) not in PASSING:
            break
        node = users[0]
    if len(users) != 1 or op_name(users[0]) != "add":
        raise Refused("position embeddings not added to a layer's output")
    other = [a for a in users[0].args[:2] if hasattr(a, "op") and a is not node and a in r.refs]
    if not other:
        raise Refused("position embeddings added to what no layer made yet")
    return other[0]


@MODULES.register("Dropout")
@FUNCTIONS.register("Dropout")
def read_dropout(r: Reading, call: ModuleCall) -> None:
    """nn.Dropout(p) or F.dropout → Dropout(rate=p)."""
    node = call.op("dropout")
    r.add(call, {"type": "Dropout", "rate": arg(node, 1, "p", 0.5)}, [node.args[0]], node)
