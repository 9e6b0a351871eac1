"""Importing a Keras SimpleRNN, GRU or LSTM that tf2onnx writes as its ``while`` loop (it
does so for SimpleRNN and GRU, and for an LSTM it cannot make one operator of): an ONNX
``Loop`` whose body computes one step of the cell.

The loop carries a step counter, the state (zeros at the start; an LSTM's cell state too),
the trip count and the cell's weights (its constant initial values: the kernel (features,
k·units), the recurrent kernel (units, k·units), the bias (k·units) or, for a reset-after
GRU, (2, k·units)); its body reads the (time, batch, features) sequence from outside by
``Gather`` at the counter, and stacks each step's state as its scan output. ``k`` tells the
cell: 1 SimpleRNN, 3 GRU (Keras's gate order z, r, h, ONNX's too), 4 LSTM (Keras's i, f, c,
o, reordered to ONNX's i, o, f, c). Its activations and a GRU's reset_after are read from
the body by ``backends.onnx.cell_reading``. The layer returns its sequences when the scan
output is read as it is (Transposed back to batch first), its last state when only the last
step is read (Slice then Squeeze) or the final state. A sequence reversed in time before the
loop (``ReverseSequence``, full length) is ``go_backwards``. A body holding other operators
is refused.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import onnx

from backends.onnx.cell_reading import CHAIN_OPS, Body, gru_args, lstm_args
from backends.onnx.importing import RECOGNISERS, Reading, Recogniser, Refused, View
from backends.onnx.merge import SUM_OP
from backends.onnx.recurrent import GRU, LSTM, SIMPLE_RNN
from backends.onnx.recurrent_reading import zero_state
from backends.onnx.step_reading import last_step, reversed_sequence
from translator.registry import Registry
from translator.spec.values import snake_case

CELLS = {1: SIMPLE_RNN, 3: GRU, 4: LSTM}  # gates per unit → the spec type
STATES = {SIMPLE_RNN: 1, GRU: 1, LSTM: 2}  # carried states: h (and an LSTM's c)
# Keras's gate order → ONNX's, as blocks of the gates' columns (LSTM i,f,c,o → i,o,f,c).
ONNX_GATES = {SIMPLE_RNN: [0], GRU: [0, 1, 2], LSTM: [0, 3, 1, 2]}
# Operators a cell's step may hold besides its activations: the step counter's arithmetic
# and condition, the input's Gather, the products, the gates' splitting.
STEP_OPS = {SUM_OP, "And", "Cast", "Gather", "Identity", "Less", "MatMul", "Mul", "Split"}
STEP_OPS |= {"Slice", "Squeeze", "Sub", "Unsqueeze", *CHAIN_OPS}


def _sequence(r: Reading, node: onnx.NodeProto) -> str:
    """The one data tensor the body reads from outside (the time-first sequence)."""
    outer = r.source.reads(node)[len(node.input) :]
    data = [t for t in outer if r.const(t) is None and t not in r.static]
    if len(data) != 1:
        raise Refused(f"its body reads {len(data)} data tensors from outside, not one sequence")
    return data[0]


def _carried(r: Reading, node: onnx.NodeProto, body: Body) -> dict[str, Any]:
    """The states' indices among the carried values (h first: the state a product reads),
    and the weights' body names → outer tensors."""
    inits, names = node.input[2:], [v.name for v in body.graph.input[2:]]
    states = [i for i, t in enumerate(inits) if r.const(t) is None and zero_state(r, t)]
    multiplied = [any(n.op_type == "MatMul" for n in body.readers(names[i])) for i in states]
    if not states or len(states) > 2 or sum(multiplied) != 1:
        raise Refused(f"it carries {len(states)} states of zeros, not a cell's")
    weights = {}
    for name, tensor in zip(names, inits, strict=False):
        value = r.const(tensor)
        if value is not None and value.dtype.kind == "f" and value.ndim >= 1:
            weights[name] = tensor
    return {
        "states": sorted(states, key=lambda i: i != states[multiplied.index(True)]),
        "weights": weights,
    }


def _kernels(r: Reading, body: Body, sequence: str, weights: dict[str, str]) -> dict[str, str]:
    """kernel, recurrent_kernel and bias (if any): the outer tensors holding them."""
    reading = [n.output[0] for n in body.nodes if n.op_type == "Gather" and n.input[0] == sequence]
    found: dict[str, str] = {}
    for name, tensor in weights.items():
        rank = r.weight(tensor).ndim
        products = [n for n in body.readers(name) if n.op_type == "MatMul"]
        if rank == 2 and products and any(set(n.input) & set(reading) for n in products):
            found["kernel"] = tensor
        elif rank == 2 and (products or _sliced(body, name)):
            found["recurrent_kernel"] = tensor
        else:
            found["bias"] = tensor
    if "kernel" not in found or "recurrent_kernel" not in found or len(weights) > 3:
        raise Refused("its body's weights are not one kernel, recurrent kernel and bias")
    return found


def _sliced(body: Body, name: str) -> bool:
    """Whether a weight is read in parts (Slice) by products: a reset-before GRU's."""
    parts = [n.output[0] for n in body.readers(name) if n.op_type == "Slice"]
    return any(n.op_type == "MatMul" for p in parts for n in body.readers(p))


def _outputs(r: Reading, node: onnx.NodeProto, state: int) -> tuple[bool, dict[str, Any]]:
    """return_sequences and the views of the Loop's outputs read: the scan output (time,
    batch, units), its last step, or the final state."""
    carried = len(node.input) - 2
    scan, final = node.output[carried], node.output[state]
    read = [t for t in node.output if t in r.source.readers or t in r.source.outputs]
    if set(read) - {scan, final} or len(read) != 1:
        raise Refused("it hands on other than one of its sequence and its last state")
    if read == [final]:
        return False, {final: (0, 1)}
    last = last_step(r, scan, 0)
    if last is None:
        return True, {scan: (1, 0, 2)}
    for claimed in last:
        r.claim(claimed)
    return False, {last[-1].output[0]: (0, 1)}


# The forms a Loop is read in, each a recogniser refusing a Loop of another form (a Keras
# cell's while loop here; a module reading another form registers it too): the first form
# not refusing reads the Loop.
LOOP_FORMS: Registry[Recogniser] = Registry("ONNX Loop form")


@RECOGNISERS.register("Loop")
def read_loop(r: Reading, node: onnx.NodeProto) -> None:
    """Loop → what the first of ``LOOP_FORMS`` not refusing it reads; else refused with
    each form's reason."""
    reasons = []
    for name, form in LOOP_FORMS.items():
        try:
            form(r, node)
            return
        except Refused as exc:
            reasons.append(f"{snake_case(name).replace('_', ' ')}: {exc}")
    raise Refused("; ".join(reasons) or "no form of Loop is read")


@LOOP_FORMS.register("RecurrentCell")
def read_cell_loop(r: Reading, node: onnx.NodeProto) -> None:
    """Loop(trip count, condition, counter, state, ..., weights) of a Keras cell's step →
    SimpleRNN or GRU (see the module doc)."""
    body = Body(node)
    unknown = sorted({n.op_type for n in body.nodes} - STEP_OPS)
    if unknown:
        raise Refused(f"its body holds {', '.join(unknown)}, not a recurrent cell's step")
    sequence = _sequence(r, node)
    x = r.view(sequence)
    r.expects(x, (1, 0, 2), "its body does not read the spec's sequence time first")
    carried = _carried(r, node, body)
    found = _kernels(r, body, sequence, carried["weights"])
    kernel, recurrent = (r.weight(found[k]) for k in ("kernel", "recurrent_kernel"))
    units = recurrent.shape[0]
    type_ = CELLS.get(recurrent.shape[1] // units) if recurrent.shape[1] % units == 0 else None
    if type_ is None or kernel.shape[1] != recurrent.shape[1]:
        raise Refused(f"its weights {kernel.shape}, {recurrent.shape} are no GRU's or SimpleRNN's")
    bias = r.weight(found["bias"]) if "bias" in found else None
    states = carried["states"]
    if len(states) != STATES[type_]:
        raise Refused(f"it carries {len(states)} states, not a {type_}'s")
    values = {"units": units, "use_bias": bias is not None, **_cell_args(body, type_, bias, states)}
    sequences, outputs = _outputs(r, node, states[0])
    values |= {"return_sequences": sequences, "go_backwards": reversed_sequence(r, sequence)}
    weights = onnx_weights(kernel, recurrent, bias, ONNX_GATES[type_])
    r.add(node, {"type": type_, **values}, [View(x.ref, (0, 1, 2))], outputs, weights)


def _cell_args(
    body: Body, type_: str, bias: np.ndarray | None, states: list[int]
) -> dict[str, Any]:
    """The activations (and a GRU's reset_after) the step shows."""
    new = [body.graph.output[1 + i].name for i in states]
    if type_ == GRU:
        return gru_args(body, bias)
    if type_ == LSTM:
        return lstm_args(body, *new)
    return {"activation": body.activation(new[0])}


def onnx_weights(
    kernel: np.ndarray, recurrent: np.ndarray, bias: np.ndarray | None, gates: list[int]
) -> dict[str, Any]:
    """Keras's cell weights as the IR's ONNX tensors W, R, B: gates in ONNX's order, B's
    recurrent half zeros where Keras has one bias."""

    def ordered(array: np.ndarray) -> np.ndarray:
        blocks = np.split(array, len(gates), axis=-1)
        return np.concatenate([blocks[g] for g in gates], axis=-1)

    weights: dict[str, Any] = {
        "W": lambda: ordered(kernel).T[None],
        "R": lambda: ordered(recurrent).T[None],
    }
    if bias is not None:
        both = (
            ordered(bias).reshape(-1)
            if bias.ndim == 2
            else np.concatenate([ordered(bias), 0 * bias])
        )
        weights["B"] = lambda: both[None]
    return weights
