"""Human-readable parameter formulas with the numbers in them, per layer type (Keras count).

``explain`` shows these next to the tensor-by-tensor listing, e.g. for the seed's LSTM:
``4 gates × (1 input + 10 units + 1 bias) × 10 units = 480``. Types without an entry get the
plain sum of their tensors.
"""

from __future__ import annotations

from collections.abc import Callable

from translator.ir import Node
from translator.ops.recurrent import GATES
from translator.registry import Registry

FORMULAS: Registry[Callable[[Node], str]] = Registry("formula")


def formula(node: Node) -> str:
    """The Keras parameter count of ``node`` as a formula with its numbers."""
    rule = FORMULAS.get(node.type)
    total = node.counts("keras")["total"]
    if rule is not None:
        return f"{rule(node)} = {total:,}"
    sizes = [w.size for w in node.weights["keras"]]
    if not sizes:
        return "no weights = 0"
    return " + ".join(f"{s:,}" for s in sizes) + f" = {total:,}"


def _bias(node: Node) -> str:
    return " + 1 bias" if node.args["use_bias"] else ""


@FORMULAS.register("Dense")
def _dense(node: Node) -> str:
    return f"({node.input_shape[-1]} inputs{_bias(node)}) × {node.args['units']} units"


@FORMULAS.register("Conv1D", "Conv2D")
def _conv(node: Node) -> str:
    kernel = " × ".join(str(k) for k in node.args["kernel_size"])
    cin = next(w.shape[-2] for w in node.weights["keras"] if w.role == "kernel")
    groups = f" (input channels / {node.args['groups']} groups)" if node.args["groups"] > 1 else ""
    return f"({kernel} kernel × {cin} input channels{groups}{_bias(node)}) × {node.args['filters']} filters"


@FORMULAS.register("Embedding")
def _embedding(node: Node) -> str:
    return f"{node.args['input_dim']} ids × {node.args['output_dim']} dims"


@FORMULAS.register("SimpleRNN", "LSTM", "GRU")
def _recurrent(node: Node) -> str:
    gates, units = GATES[node.type], node.args["units"]
    d = node.input_shape[-1]
    bias = ""
    if node.args["use_bias"]:
        bias = " + 2 biases" if node.type == "GRU" and node.args["reset_after"] else " + 1 bias"
    first = f"{gates} gate{'s' if gates > 1 else ''} × ({d} input + {units} units{bias}) × {units} units"
    more = node.args["num_layers"] - 1
    if more:
        first += f" + {more} × {gates} × ({units} input + {units} units{bias}) × {units} units"
    return first


@FORMULAS.register("BatchNormalization")
def _batchnorm(node: Node) -> str:
    c = next(w.shape[0] for w in node.weights["keras"] if w.role == "moving_mean")
    learned = int(node.args["scale"]) + int(node.args["center"])
    return f"({learned} learned + 2 moving statistics) × {c} channels"


@FORMULAS.register("TimeDistributed")
def _time_distributed(node: Node) -> str:
    inner = node.inner
    return "the wrapped layer's " + (formula(inner).rsplit(" = ", 1)[0] if inner else "")


@FORMULAS.register("Bidirectional")
def _bidirectional(node: Node) -> str:
    inner = node.inner
    return "2 directions × " + (formula(inner).rsplit(" = ", 1)[0] if inner else "")
