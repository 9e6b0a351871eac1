"""Reading activations and normalizations that torch.onnx writes out operator by
operator, claimed as one spec layer each (``PATTERNS``, at their first node in file order):
gelu_tanh (transformers' NewGELUActivation, GPT-2's), and RMS normalization (Llama's
RMSNorm, which opset 21 has no operator for). Each pattern is checked whole, its numbers
included; a near miss is left to the per-operator recognisers, which list what they cannot
read.
"""

from __future__ import annotations

import math
from typing import Any

import onnx

from backends.onnx.importing import PATTERNS, Reading, Recogniser, Refused
from backends.onnx.merge import PRODUCT_OP, SUM_OP
from backends.onnx.normalization import epsilon

# gelu_tanh written out, as torch.onnx writes transformers' NewGELUActivation (GPT-2):
# 0.5·x · (1 + tanh(sqrt(2/π) · (x + 0.044715·x³))).
GELU_TANH = {"half": 0.5, "cube": 3.0, "cubic": 0.044715, "inner": math.sqrt(2 / math.pi)}


def by_number(r: Reading, node: onnx.NodeProto | None, op: str) -> tuple[str, float] | None:
    """(the run-time operand, the number) of ``op`` on a one-element constant, else None."""
    if node is None or node.op_type != op:
        return None
    values = [r.const(t) for t in node.input]
    for i in (1, 0):
        number, other = values[i], values[1 - i]
        if number is not None and number.size == 1 and other is None:
            return node.input[1 - i], float(number.reshape(-1)[0])
    return None


def _nodes(r: Reading, tensors: list[str]) -> list[onnx.NodeProto] | None:
    """The nodes making ``tensors``, or None if one is made by none."""
    found = [r.source.producers.get(t) for t in tensors]
    return [n for n in found if n is not None] if None not in found else None


def _cubic(r: Reading, total: onnx.NodeProto) -> tuple[str, dict[str, float], list[str]] | None:
    """(x, the numbers, the tensors) of ``x + c·x³`` made by the Add ``total``."""
    for x, other in (total.input, total.input[::-1]):
        cubic = by_number(r, r.source.producers.get(other), "Mul")
        cube = by_number(r, r.source.producers.get(cubic[0]), "Pow") if cubic else None
        if cubic is not None and cube is not None and cube[0] == x:
            return x, {"cubic": cubic[1], "cube": cube[1]}, [other, cubic[0]]
    return None


def _gelu_tanh(r: Reading, tanh: onnx.NodeProto) -> tuple[str, list[onnx.NodeProto]] | None:
    """(x, the nodes, the last one making the activation) of gelu_tanh around ``tanh``."""
    inner = by_number(r, r.source.producers.get(tanh.input[0]), "Mul")
    total = r.source.producers.get(inner[0]) if inner else None
    cubic = _cubic(r, total) if total is not None and total.op_type == SUM_OP else None
    plus = r.reader(tanh.output[0])
    one = by_number(r, plus, SUM_OP)
    last = r.reader(plus.output[0]) if plus is not None and one is not None else None
    if inner is None or cubic is None or one is None or last is None or plus is None:
        return None
    x, numbers, tensors = cubic
    halves = [(t, by_number(r, r.source.producers.get(t), "Mul")) for t in last.input]
    half = [(t, h[1]) for t, h in halves if h is not None and h[0] == x]
    numbers |= {"inner": inner[1], "half": half[0][1] if half else 0.0}
    close = all(math.isclose(numbers[k], v, rel_tol=1e-6) for k, v in GELU_TANH.items())
    nodes = _nodes(r, [tanh.input[0], inner[0], *tensors, *(t for t, _ in half[:1])])
    if last.op_type != PRODUCT_OP or one[1] != 1.0 or not close or not half or nodes is None:
        return None
    return x, [tanh, *nodes, plus, last]


@PATTERNS.register("GeluTanh")
def find_gelu_tanh(r: Reading) -> dict[int, Recogniser]:
    """gelu_tanh written out (``GELU_TANH``) → Activation(gelu_tanh), claimed at its first
    node in file order."""
    order = {id(n): i for i, n in enumerate(r.source.model.graph.node)}
    found: dict[int, Recogniser] = {}
    for node in r.source.model.graph.node:
        match = _gelu_tanh(r, node) if node.op_type == "Tanh" else None
        if match is not None:
            found[id(min(match[1], key=lambda n: order[id(n)]))] = _gelu_recogniser(*match)
    return found


def _gelu_recogniser(
    x: str, nodes: list[onnx.NodeProto], activation: str = "gelu_tanh"
) -> Recogniser:
    def recognise(r: Reading, node: onnx.NodeProto) -> None:
        view = r.view(x)
        r.add(
            node,
            {"type": "Activation", "activation": activation},
            [view],
            {nodes[-1].output[0]: view.axes},
        )
        for claimed in nodes:
            r.claim(claimed)

    return recognise


# Exact gelu written out, as tf2onnx writes TensorFlow's (Keras's ``gelu``), its Erfc as
# ``1 - Erf``: 0.5·x · (1 - erf(-x · 1/√2)).
def _gelu_erf(r: Reading, sub: onnx.NodeProto) -> tuple[str, list[onnx.NodeProto]] | None:
    """(x, the nodes) of an exact gelu around the Sub ``sub`` of ``1 - Erf(...)``."""
    one, erf = r.const(sub.input[0]), r.source.producers.get(sub.input[1])
    if one is None or one.size != 1 or float(one.reshape(-1)[0]) != 1.0:
        return None
    scaled = r.source.producers.get(erf.input[0]) if erf and erf.op_type == "Erf" else None
    inner = by_number(r, scaled, "Mul")
    neg = r.source.producers.get(inner[0]) if inner is not None else None
    negated = neg is not None and neg.op_type == "Neg"
    last = r.reader(sub.output[0])
    if inner is None or scaled is None or erf is None or last is None or last.op_type != "Mul":
        return None
    x, factor = (neg.input[0], -inner[1]) if negated else (inner[0], inner[1])  # type: ignore[union-attr]
    halves = [(t, by_number(r, r.source.producers.get(t), "Mul")) for t in last.input]
    half = [t for t, h in halves if h is not None and h[0] == x and h[1] == 0.5]
    if not half or not math.isclose(factor, -1 / math.sqrt(2), rel_tol=1e-6):
        return None
    nodes = [r.source.producers[half[0]], *([neg] if negated else []), scaled, erf, sub, last]
    return x, nodes  # type: ignore[return-value]


@PATTERNS.register("GeluErf")
def find_gelu_erf(r: Reading) -> dict[int, Recogniser]:
    """The exact gelu written out (see above) → Activation(gelu), claimed at its first node
    in file order."""
    order = {id(n): i for i, n in enumerate(r.source.model.graph.node)}
    found: dict[int, Recogniser] = {}
    for node in r.source.model.graph.node:
        match = _gelu_erf(r, node) if node.op_type == "Sub" else None
        if match is not None:
            first = min(match[1], key=lambda n: order[id(n)])
            found[id(first)] = _gelu_recogniser(*match, activation="gelu")
    return found


# RMS normalization written out, as torch.onnx writes Llama's RMSNorm:
# Mul(scale, Mul(x, Reciprocal(Sqrt(Add(ReduceMean(Pow(x, 2), [-1]), epsilon))))).
def _rms(r: Reading, mean: onnx.NodeProto) -> tuple[str, float, str, list[Any]] | None:
    """(x, epsilon, the scale tensor, the nodes) of an RMS normalization around the
    ReduceMean ``mean``, over the last axis; else None."""
    square = by_number(r, r.source.producers.get(mean.input[0]), "Pow")
    axes = r.const(mean.input[1]) if len(mean.input) > 1 else None
    rank = len(r.shape(mean.input[0]) or ())
    if square is None or square[1] != 2.0 or axes is None or axes.size != 1:
        return None
    shifted = by_number(r, r.reader(mean.output[0]), SUM_OP)
    root = r.reader(r.reader(mean.output[0]).output[0]) if shifted else None  # type: ignore[union-attr]
    inverse = r.reader(root.output[0]) if root is not None and root.op_type == "Sqrt" else None
    scaled = r.reader(inverse.output[0]) if inverse and inverse.op_type == "Reciprocal" else None
    outer = r.reader(scaled.output[0]) if scaled is not None and scaled.op_type == "Mul" else None
    if outer is None or shifted is None or int(axes.reshape(-1)[0]) % rank != rank - 1:
        return None
    x = square[0]
    weights = [t for t in outer.input if r.source.is_weight(t)]
    if x not in scaled.input or outer.op_type != "Mul" or len(weights) != 1:  # type: ignore[union-attr]
        return None
    nodes = [r.source.producers.get(mean.input[0]), mean, r.reader(mean.output[0])]
    return x, shifted[1], weights[0], [*nodes, root, inverse, scaled, outer]


@PATTERNS.register("RMSNormalization")
def find_rms_norm(r: Reading) -> dict[int, Recogniser]:
    """RMS normalization written out → RMSNormalization(epsilon), claimed at its Pow."""
    found: dict[int, Recogniser] = {}
    for node in r.source.model.graph.node:
        rms = _rms(r, node) if node.op_type == "ReduceMean" else None
        if rms is not None:
            found[id(rms[3][0])] = _rms_recogniser(*rms)
    return found


def _rms_recogniser(x: str, eps: float, scale: str, nodes: list[Any]) -> Recogniser:
    def recognise(r: Reading, node: onnx.NodeProto) -> None:
        view = r.view(x)
        if view.axes[-1] != max(a for a in view.axes if a is not None):
            raise Refused("it normalizes an axis other than the spec's last")
        layer = {"type": "RMSNormalization", "epsilon": epsilon(eps)}
        weights = {"scale": lambda: r.weight(scale)}
        r.add(node, layer, [view], {nodes[-1].output[0]: view.axes}, weights)
        for claimed in nodes:
            r.claim(claimed)

    return recognise
