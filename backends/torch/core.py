"""Core layers: Input, Dense, Dropout, Embedding.

Each layer subclasses the native torch module so its tensors keep PyTorch's own names
(``weight``, ``bias``); an activation is a parameterless child module. A Dense tied to an
Embedding (``tie: wte``) is the custom ``TiedDense``, which owns only its bias: it takes the
Embedding's matrix after its input, which the model hands it (``backends.torch.model.tie``,
as the exported network does). The modules are the standalone ones
(``backends/torch/standalone/layers.py``) that ``export`` copies into ``model.py``.
"""

from __future__ import annotations

from backends.torch import activation
from backends.torch.importing import FUNCTIONS, MODULES, ModuleCall, Reading, Refused, arg
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
    """nn.Linear(in, out, bias) → Dense(units=out, use_bias), its activation folded in."""
    node = call.op("linear")
    weight, bias = node.args[1], arg(node, 2, "bias")
    name, output = activation.folded(r, node)
    layer = {"type": "Dense", "units": Reading.shape(weight)[0], "use_bias": bias is not None}
    r.add(call, {**layer, "activation": name}, [node.args[0]], output)


@MODULES.register("Embedding")
def read_embedding(r: Reading, call: ModuleCall) -> None:
    """nn.Embedding(num, dim) → Embedding(input_dim=num, output_dim=dim)."""
    node = call.op("embedding")
    rows, size = Reading.shape(node.args[0])
    if arg(node, 2, "padding_idx", -1) not in (-1, None):
        raise Refused("padding_idx keeps a row at zero in training; the spec has no such row")
    layer = {"type": "Embedding", "input_dim": rows, "output_dim": size}
    r.add(call, layer, [node.args[1]], node)


@MODULES.register("Dropout")
@FUNCTIONS.register("Dropout")
def read_dropout(r: Reading, call: ModuleCall) -> None:
    """nn.Dropout(p) or F.dropout → Dropout(rate=p)."""
    node = call.op("dropout")
    r.add(call, {"type": "Dropout", "rate": arg(node, 1, "p", 0.5)}, [node.args[0]], node)
