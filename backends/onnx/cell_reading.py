"""Reading a Keras recurrent cell's step from a Loop's body (``backends.onnx.loop_reading``):
its activations, and the arguments its structure shows.

An activation is read by its values: the chain of elementwise operators (each with one data
operand, the others constants of the body) that makes a gate or a candidate from the sum
before it (with the constants that sum adds) is evaluated on a range of inputs and matched
against the Keras activations the recurrent operators apply (``recurrent.RNN_ACTIVATIONS``):
tanh and sigmoid as operators, hard_sigmoid as tf2onnx writes Keras's ``relu6(x + 3) / 6``
(Add, Clip, Mul; TensorFlow may move the ``+ 3`` into the sum), none at all for linear. A GRU's update gate z is the one ``1 - z`` is taken of, its candidate what that
multiplies; it applies its reset gate before the recurrent product (``reset_after: false``)
when a product is taken of a Mul. An LSTM's new state is ``o · act(c)``, its cell state's
activation the one of that product's operands made from the new cell state.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import onnx
from onnx import helper, numpy_helper

from backends.onnx.importing import Refused, attributes
from backends.onnx.merge import SUM_OP

# Elementwise operators an activation's chain may hold (with constant operands).
CHAIN_OPS = {SUM_OP, "Clip", "Div", "Elu", "HardSigmoid", "Identity", "LeakyRelu", "Mul"}
CHAIN_OPS |= {"Relu", "Sigmoid", "Softplus", "Softsign", "Sub", "Tanh"}
PROBE = np.linspace(-6.0, 6.0, 49, dtype=np.float32)
# Keras's activations on the probe: those a recurrent operator applies (RNN_ACTIVATIONS).
KERAS_VALUES = {
    "elu": np.where(PROBE > 0, PROBE, np.expm1(PROBE)),
    "hard_sigmoid": np.clip(PROBE / 6 + 0.5, 0, 1),
    "leaky_relu": np.where(PROBE > 0, PROBE, 0.2 * PROBE),
    "linear": PROBE,
    "relu": np.maximum(PROBE, 0),
    "sigmoid": 1 / (1 + np.exp(-PROBE)),
    "softplus": np.log1p(np.exp(PROBE)),
    "softsign": PROBE / (1 + np.abs(PROBE)),
    "tanh": np.tanh(PROBE),
}


class Body:
    """A Loop's body: its nodes by output, its constants."""

    def __init__(self, node: onnx.NodeProto) -> None:
        self.graph = attributes(node)["body"]
        self.producers = {t: n for n in self.graph.node for t in n.output}
        self.nodes = list(self.graph.node)
        self.constants = {i.name: numpy_helper.to_array(i) for i in self.graph.initializer}
        for n in self.nodes:
            if n.op_type == "Constant" and "value" in attributes(n):
                self.constants[n.output[0]] = numpy_helper.to_array(attributes(n)["value"])

    def origin(self, tensor: str) -> onnx.NodeProto | None:
        """The node making ``tensor``, through Identity nodes."""
        node = self.producers.get(tensor)
        while node is not None and node.op_type == "Identity":
            node = self.producers.get(node.input[0])
        return node

    def readers(self, tensor: str) -> list[onnx.NodeProto]:
        return [n for n in self.nodes if tensor in n.input]

    def chain(self, tensor: str) -> tuple[str, list[onnx.NodeProto]]:
        """The elementwise nodes making ``tensor`` from one data tensor (in order) and that."""
        nodes: list[onnx.NodeProto] = []
        node = self.producers.get(tensor)
        while node is not None and node.op_type in CHAIN_OPS:
            data = [t for t in node.input if t and t not in self.constants]
            if len(data) != 1:
                break
            nodes.insert(0, node)
            tensor = data[0]
            node = self.producers.get(tensor)
        return tensor, nodes

    def activation(self, tensor: str) -> str:
        """The Keras activation whose chain makes ``tensor`` (see the module doc)."""
        start, nodes = self.chain(tensor)
        probe = PROBE + self.offset(start)
        values = self._evaluate(start, tensor, nodes, probe) if nodes else probe
        for name, expected in KERAS_VALUES.items():
            if values.shape == expected.shape and np.allclose(values, expected, atol=1e-5):
                return name
        raise Refused("its step applies an activation no recurrent layer of the spec has")

    def offset(self, tensor: str, depth: int = 4) -> float:
        """The constant a sum making ``tensor`` adds (Add nodes of data and constants, as
        TensorFlow moves hard_sigmoid's ``+ 3`` into the gate's sum)."""
        node = self.producers.get(tensor)
        if node is None or node.op_type != SUM_OP or not depth:
            return 0.0
        found = [self.constants.get(t) for t in node.input]
        if any(c is not None and c.size != 1 for c in found):
            raise Refused("its step adds a constant of more than one value before a gate")
        added = sum(float(c.reshape(-1)[0]) for c in found if c is not None)
        inner = [
            self.offset(t, depth - 1) for t, c in zip(node.input, found, strict=True) if c is None
        ]
        return added + sum(inner)

    def _evaluate(
        self, start: str, end: str, nodes: list[onnx.NodeProto], probe: np.ndarray
    ) -> np.ndarray:
        from onnx.reference import ReferenceEvaluator

        used = {t for n in nodes for t in n.input if t in self.constants}
        graph = helper.make_graph(
            nodes,
            "activation",
            [helper.make_tensor_value_info(start, onnx.TensorProto.FLOAT, [len(probe)])],
            [helper.make_empty_tensor_value_info(end)],
            [numpy_helper.from_array(self.constants[t], t) for t in sorted(used)],
        )
        model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
        return np.asarray(
            next(iter(ReferenceEvaluator(model).run(None, {start: probe.astype(np.float32)})))
        )


def gru_args(body: Body, bias: np.ndarray | None) -> dict[str, Any]:
    """activation, recurrent_activation and reset_after of a GRU's step."""
    complements = [n for n in body.nodes if n.op_type == "Sub" and n.input[0] in body.constants]
    if len(complements) != 1:
        raise Refused("its step has no one update gate's complement (1 - z)")
    sub = complements[0]
    mixes = [n for n in body.readers(sub.output[0]) if n.op_type == "Mul"]
    other = [t for m in mixes for t in m.input if t != sub.output[0]]
    if len(other) != 1:
        raise Refused("its step does not mix the candidate by the update gate")
    made = {t for n in body.nodes if n.op_type == "Mul" for t in n.output}
    before = any(set(n.input) & made for n in body.nodes if n.op_type == "MatMul")
    if bias is not None and (bias.ndim == 2) == before:
        raise Refused("its bias does not match where its reset gate applies")
    return {
        "activation": body.activation(other[0]),
        "recurrent_activation": body.activation(sub.input[1]),
        "reset_after": not before,
    }


def lstm_args(body: Body, new_state: str, new_cell: str) -> dict[str, Any]:
    """activation and recurrent_activation of an LSTM's step: ``new_state = o · act(c)``."""
    product = body.origin(new_state)
    if product is None or product.op_type != "Mul" or len(product.input) != 2:
        raise Refused("its step's new state is not the output gate times the cell's state")
    cell_node = body.origin(new_cell)
    made = [body.origin(body.chain(t)[0]) is cell_node for t in product.input]
    if sorted(made) != [False, True]:
        raise Refused("its step's new state is not made from its new cell state")
    cell = made.index(True)
    return {
        "activation": body.activation(product.input[cell]),
        "recurrent_activation": body.activation(product.input[1 - cell]),
    }
