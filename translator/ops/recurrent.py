"""Recurrent layers: SimpleRNN, LSTM, GRU (``reset_after`` true and false).

Gate counts and the per-framework tensors live here once; ``Bidirectional`` (wrappers.py)
reuses ``rnn_weights`` with two directions.
"""

from __future__ import annotations

from dataclasses import dataclass

from translator.ir import Node, Shape, WeightSpec
from translator.ir.registries import conversions, formula_rule, shape_rule, weight_rule
from translator.spec.schema import ACTIVATION, REQUIRED, Arg, Bool, Int, layer_schema
from translator.weights.maps import Entry, LayerMap, e, present, weight_map
from translator.weights.transforms import Fold, Pack, Transpose, gated

GATES = {"SimpleRNN": 1, "LSTM": 4, "GRU": 3}
KERAS_CELL = {"SimpleRNN": "simple_rnn_cell", "LSTM": "lstm_cell", "GRU": "gru_cell"}


def _rnn_schema(type_: str, doc: str, *extra: Arg, aliases: tuple[str, ...] = ()) -> None:
    layer_schema(
        type_,
        "recurrent",
        doc,
        Arg("units", Int(), REQUIRED, "size of the hidden state"),
        Arg("activation", ACTIVATION, "tanh", "activation of the candidate / output"),
        *extra,
        Arg("use_bias", Bool(), True, "add bias vectors"),
        Arg("return_sequences", Bool(), False, "output every step (true) or the last (false)"),
        Arg("go_backwards", Bool(), False, "process the sequence in reverse"),
        Arg(
            "num_layers",
            Int(1, 64),
            1,
            "stacked layers, as PyTorch's num_layers (each after the first reads the previous "
            "one's sequence); Keras builds it as a stack of layers",
        ),
        aliases=aliases,
    )


_RECURRENT_ACTIVATION = Arg(
    "recurrent_activation", ACTIVATION, "sigmoid", "activation of the gates"
)
_rnn_schema(
    "SimpleRNN",
    "Fully connected recurrent layer: `h = activation(x W + h R + b)`.",
    aliases=("RNN",),
)
_rnn_schema("LSTM", "Long short-term memory (gates i, f, c, o in Keras).", _RECURRENT_ACTIVATION)
_rnn_schema(
    "GRU",
    "Gated recurrent unit (gates z, r, h in Keras).",
    _RECURRENT_ACTIVATION,
    Arg(
        "reset_after",
        Bool(),
        True,
        "apply the reset gate after the recurrent matmul (true: PyTorch/cuDNN style, two biases)",
    ),
)


def sequence_dims(node: Node) -> tuple[int | None, int]:
    """(time steps, features) of a recurrent layer's input."""
    shape = node.input_shape
    if len(shape) != 2:
        raise node.shape_error(
            "expects a sequence input (batch, time, features)", "add a Reshape or check the input"
        )
    if shape[1] is None:
        raise node.shape_error("the feature axis must have a known size", "give it a size")
    return shape[0], shape[1]


def rnn_shape(node: Node, width: int) -> Shape:
    steps, _ = sequence_dims(node)
    return (steps, width) if node.args["return_sequences"] else (width,)


@shape_rule(*GATES)
def recurrent_shape(node: Node) -> tuple[Shape, ...]:
    return (rnn_shape(node, node.args["units"]),)


def _keras(node: Node, d: int, u: int, prefix: str, layer: int) -> tuple[WeightSpec, ...]:
    # Layer 0 is the Keras layer itself; layers 1.. are sublayers named layer_1, layer_2, ...
    stack = f"layer_{layer}/" if layer else ""
    g, cell = GATES[node.type], f"{prefix}{stack}{KERAS_CELL[node.type]}/"
    out = [
        WeightSpec(cell + "kernel", (d, g * u), "kernel"),
        WeightSpec(cell + "recurrent_kernel", (u, g * u), "recurrent_kernel"),
    ]
    if node.args["use_bias"]:
        double = node.type == "GRU" and node.args["reset_after"]
        out.append(WeightSpec(cell + "bias", (2, g * u) if double else (g * u,), "bias"))
    return tuple(out)


def _torch(node: Node, d: int, u: int, suffix: str, layer: int) -> tuple[WeightSpec, ...]:
    g, at = GATES[node.type], f"l{layer}{suffix}"
    out = [
        WeightSpec(f"weight_ih_{at}", (g * u, d), "kernel"),
        WeightSpec(f"weight_hh_{at}", (g * u, u), "recurrent_kernel"),
    ]
    if not node.args["use_bias"]:
        return tuple(out)
    if node.type == "GRU" and not node.args["reset_after"]:
        # No native PyTorch GRU applies the reset gate before the recurrent matmul; the
        # backend builds an exact custom module with Keras's single bias vector.
        return (*out, WeightSpec(f"bias_{at}", (g * u,), "bias"))
    return (
        *out,
        WeightSpec(f"bias_ih_{at}", (g * u,), "input_bias"),
        WeightSpec(f"bias_hh_{at}", (g * u,), "recurrent_bias"),
    )


def _onnx(node: Node, d: int, u: int, directions: int, layer: int) -> tuple[WeightSpec, ...]:
    # One ONNX recurrent operator per stacked layer: W, R, B for the first, W_l1, ... after.
    g, at = GATES[node.type], f"_l{layer}" if layer else ""
    out = [
        WeightSpec(f"W{at}", (directions, g * u, d), "kernel"),
        WeightSpec(f"R{at}", (directions, g * u, u), "recurrent_kernel"),
    ]
    if node.args["use_bias"]:
        # ONNX's B is [Wb, Rb]: an input and a recurrent bias per gate, always both.
        out.append(WeightSpec(f"B{at}", (directions, 2 * g * u), "bias"))
    return tuple(out)


def rnn_weights(
    node: Node, directions: tuple[tuple[str, str], ...]
) -> dict[str, tuple[WeightSpec, ...]]:
    """Weights of a recurrent ``node`` run in each direction.

    ``directions`` pairs a Keras name prefix with a PyTorch name suffix per direction:
    ``(("", ""),)`` for a plain layer, ``(("forward_lstm/", ""), ("backward_lstm/", "_reverse"))``
    inside Bidirectional.
    """
    _, d = sequence_dims(node)
    u = node.args["units"]
    layers = [(i, d if i == 0 else u) for i in range(node.args["num_layers"])]
    return {
        "keras": tuple(
            w for prefix, _ in directions for i, n in layers for w in _keras(node, n, u, prefix, i)
        ),
        # PyTorch orders a stack layer by layer, each layer's directions together.
        "torch": tuple(
            w for i, n in layers for _, suffix in directions for w in _torch(node, n, u, suffix, i)
        ),
        "onnx": tuple(w for i, n in layers for w in _onnx(node, n, u, len(directions), i)),
    }


@weight_rule(*GATES)
def recurrent_weights(node: Node) -> dict[str, tuple[WeightSpec, ...]]:
    return rnn_weights(node, (("", ""),))


# --- the weight map ---------------------------------------------------------------------

# Gate order of each framework's tensors, in one alphabet (LSTM i f c o, GRU z r h):
# PyTorch's LSTM i,f,g,o is Keras's i,f,c,o; its GRU r,z,n is Keras's r,z,h.
GATE_ORDERS: dict[str, dict[str, str]] = {
    "SimpleRNN": {"keras": "h", "torch": "h", "onnx": "h"},
    "LSTM": {"keras": "ifco", "torch": "ifco", "onnx": "iofc"},
    "GRU": {"keras": "zrh", "torch": "rzh", "onnx": "zrh"},
}


@dataclass(frozen=True)
class Direction:
    """One direction of a recurrent layer: its canonical prefix, Keras variable prefix and
    PyTorch name suffix."""

    canonical: str
    keras: str
    torch: str

    def key(self, layer: int) -> str:
        """The canonical prefix of stacked layer ``layer`` in this direction."""
        return f"{self.canonical}{_stack(layer)}"

    def cell(self, node: Node, layer: int) -> str:
        """The Keras variable prefix of stacked layer ``layer``'s cell in this direction."""
        return f"{self.keras}{_stack(layer)}{KERAS_CELL[node.type]}/"


def reset_before(node: Node) -> bool:
    """A GRU that applies its reset gate before the recurrent matmul (``reset_after: false``)."""
    return node.type == "GRU" and not node.args["reset_after"]


def _stack(layer: int) -> str:
    """The path of stacked layer ``layer`` (``num_layers``) below a direction: none for the
    first, ``layer_<i>/`` after it, in Keras's variable paths and canonical keys alike."""
    return f"layer_{layer}/" if layer else ""


def _keras_rnn(node: Node, d: Direction, layer: int) -> tuple[Entry, ...]:
    cell, c = d.cell(node, layer), d.key(layer)
    biases = (f"{c}input_bias", f"{c}recurrent_bias")
    # Keras keeps one bias (the two folded), except the reset-after GRU: (2, 3u) = both.
    double = node.type == "GRU" and node.args["reset_after"]
    return (
        e(f"{cell}kernel", f"{c}kernel"),
        e(f"{cell}recurrent_kernel", f"{c}recurrent_kernel"),
        Entry(f"{cell}bias", biases, Pack() if double else Fold()),
    )


def _torch_rnn(node: Node, d: Direction, layer: int) -> tuple[Entry, ...]:
    c, s = d.key(layer), f"l{layer}{d.torch}"
    # The custom reset-before GRU keeps Keras's gate order and single bias.
    order = GATE_ORDERS[node.type]["keras" if reset_before(node) else "torch"]
    matrix = gated(GATE_ORDERS[node.type]["keras"], order, Transpose())
    vector = gated(GATE_ORDERS[node.type]["keras"], order)
    return (
        e(f"weight_ih_{s}", f"{c}kernel", via=matrix),
        e(f"weight_hh_{s}", f"{c}recurrent_kernel", via=matrix),
        e(f"bias_ih_{s}", f"{c}input_bias", via=vector),
        e(f"bias_hh_{s}", f"{c}recurrent_bias", via=vector),
        Entry(f"bias_{s}", (f"{c}input_bias", f"{c}recurrent_bias"), Fold()),
    )


def _onnx_rnn(node: Node, directions: tuple[Direction, ...], layer: int) -> tuple[Entry, ...]:
    # One ONNX operator per stacked layer: W, R, B for the first; W_l1, R_l1, B_l1 after.
    keras, onnx = GATE_ORDERS[node.type]["keras"], GATE_ORDERS[node.type]["onnx"]
    at, prefixes = f"_l{layer}" if layer else "", [d.key(layer) for d in directions]
    kernels = tuple(f"{c}kernel" for c in prefixes)
    recurrent = tuple(f"{c}recurrent_kernel" for c in prefixes)
    biases = tuple(f"{c}{r}" for c in prefixes for r in ("input_bias", "recurrent_bias"))
    return (
        Entry(f"W{at}", kernels, Pack(gated(keras, onnx, Transpose()))),
        Entry(f"R{at}", recurrent, Pack(gated(keras, onnx, Transpose()))),
        Entry(f"B{at}", biases, Pack(gated(keras, onnx))),
    )


def _rnn_canonical(node: Node, directions: tuple[Direction, ...]) -> dict[str, tuple[int, ...]]:
    """Per direction and stacked layer: the kernels as Keras keeps them, biases split."""
    keras = {w.name: w.shape for w in node.weights["keras"]}
    canonical: dict[str, tuple[int, ...]] = {}
    for d in directions:
        for layer in range(node.args["num_layers"]):
            cell, c = d.cell(node, layer), d.key(layer)
            canonical[f"{c}kernel"] = keras[f"{cell}kernel"]
            canonical[f"{c}recurrent_kernel"] = keras[f"{cell}recurrent_kernel"]
            if node.args["use_bias"]:
                width = (GATES[node.type] * node.args["units"],)
                canonical[f"{c}input_bias"] = width
                canonical[f"{c}recurrent_bias"] = width
    return canonical


def rnn_map(node: Node, directions: tuple[Direction, ...]) -> LayerMap:
    """Kernels as Keras keeps them; biases split in two per direction and stacked layer."""
    layers = range(node.args["num_layers"])
    tables = {
        "keras": tuple(x for d in directions for i in layers for x in _keras_rnn(node, d, i)),
        "torch": tuple(x for d in directions for i in layers for x in _torch_rnn(node, d, i)),
        "onnx": tuple(x for i in layers for x in _onnx_rnn(node, directions, i)),
    }
    return LayerMap(_rnn_canonical(node, directions), present(node, tables))


@weight_map(*GATES)
def recurrent_map(node: Node) -> LayerMap:
    """SimpleRNN, LSTM, GRU run in one direction, with every stacked layer's tensors."""
    return rnn_map(node, (Direction("", "", ""),))


@formula_rule(*GATES)
def recurrent_formula(node: Node) -> str:
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


def _stack_note(layers: int) -> str | None:
    if layers == 1:
        return None
    return (
        f"num_layers {layers} → PyTorch's own stack (num_layers={layers}; a custom module for"
        f" the reset-before GRU), {layers} chained ONNX operators, {layers} chained Keras layers"
        " (the layer itself, then layer_1, ...)"
    )


conversions("SimpleRNN", "LSTM", num_layers=_stack_note)
conversions(
    "GRU",
    num_layers=_stack_note,
    reset_after=lambda r: (
        "reset_after true → PyTorch nn.GRU (gates r, z, n), ONNX linear_before_reset=1"
        if r
        else "reset_after false → a PyTorch custom module (no native GRU resets before"
        " the matmul), ONNX linear_before_reset=0; the recurrent bias folds into the input one"
    ),
)
