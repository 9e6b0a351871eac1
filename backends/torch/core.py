"""Core layers: Input, Dense, Dropout, Embedding.

Each layer subclasses the native torch module so its tensors keep PyTorch's own names
(``weight``, ``bias``); an activation is a parameterless child module. A Dense tied to an
Embedding (``tie: wte``) is the custom ``TiedDense``, which owns only its bias: it takes the
Embedding's matrix after its input, which the model hands it (``backends.torch.model.tie``,
as the exported network does). The modules are the standalone ones
(``backends/torch/standalone/layers.py``) that ``export`` copies into ``model.py``.
"""

from __future__ import annotations

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
    """Dropout(rate, seed=0) → ``nn.Dropout`` (the identity in eval mode, as in Keras)."""
    return call("nn.Dropout", node.args["rate"])


@describes("Embedding")
def describe_embedding(node: Node) -> Call:
    """Embedding(input_dim, output_dim) → ``nn.Embedding`` (ids int32 or int64)."""
    return call("nn.Embedding", node.args["input_dim"], node.args["output_dim"])
