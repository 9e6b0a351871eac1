"""The catalogue of reconciliation rules: every parameter difference gets a name and a reason.

A rule is data: an id, the layer types it applies to, a condition, a delta formula per
framework (how much that framework's total differs from Keras's because of this convention),
and an explanation template that is filled with the real numbers. Differences are measured on
the real frameworks; ``unexplained`` is what remains after the rules, and must be zero.
Wrappers hold copies of their wrapped layer's weights, so the wrapped layer's rules apply
``WRAPPER_COPIES`` times.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from translator.ir import Node
from translator.ops.recurrent import GATES

GATE_NAMES = {"LSTM": "i, f, c, o", "GRU": "z, r, h", "SimpleRNN": "h"}

# How many copies of the wrapped layer's weights each wrapper keeps.
WRAPPER_COPIES = {"TimeDistributed": 1, "Bidirectional": 2}


@dataclass(frozen=True)
class Rule:
    """One named convention difference between Keras and another framework."""

    id: str
    layers: tuple[str, ...]
    applies: Callable[[Node], bool]
    values: Callable[[Node], dict[str, Any]]  # the numbers the formulas and the text use
    delta: dict[str, str]  # framework → "+name" or "-name": a signed entry of ``values``
    text: str  # explanation template over ``values`` (and ``copies``)
    example: tuple[str, str]  # (a layer, its input shape) showing the rule, for the docs

    def deltas(self, node: Node, copies: int = 1) -> dict[str, int]:
        values = self.values(node)
        sign = {"+": 1, "-": -1}
        return {fw: copies * sign[f[0]] * int(values[f[1:]]) for fw, f in self.delta.items()}

    def explain(self, node: Node, copies: int = 1) -> str:
        values = {**self.values(node), "copies": copies}
        text = self.text.format(**values)
        if copies > 1:
            text += f" Twice here, once per direction: {copies} × each figure."
        return text


def _rnn_values(node: Node) -> dict[str, Any]:
    gates, units, layers = GATES[node.type], node.args["units"], node.args["num_layers"]
    words = f"{gates} gates ({GATE_NAMES[node.type]})" if gates > 1 else "1 gate"
    if layers > 1:
        words = f"{layers} layers × {words}"
    return {"gates": words, "units": units, "n": layers * gates * units, "type": node.type}


def _bn_values(node: Node) -> dict[str, Any]:
    (channels,) = next(w.shape for w in node.weights["keras"] if w.role == "moving_mean")
    return {"c": channels, "n": 2 * channels}


def _rnn_double_bias_applies(node: Node) -> bool:
    # Keras's reset-after GRU already has two bias vectors (bias shape (2, 3u)), and the
    # reset-before GRU has a rule of its own; so this one is for SimpleRNN and LSTM.
    return bool(node.args["use_bias"]) and node.type != "GRU"


RULES: tuple[Rule, ...] = (
    Rule(
        id="rnn-double-bias",
        layers=("SimpleRNN", "LSTM"),
        applies=_rnn_double_bias_applies,
        values=_rnn_values,
        delta={"torch": "+n", "onnx": "+n"},
        text=(
            "PyTorch keeps a second bias vector per gate, bias_hh, next to bias_ih: "
            "{gates} × {units} units = {n} more; ONNX's {type} likewise takes "
            "B = [Wb, Rb]: {n} more. Keras keeps one bias per gate (the two only ever add up)."
        ),
        example=("{type: LSTM, units: 10}", "[null, 1]"),
    ),
    Rule(
        id="gru-reset-before-onnx-bias",
        layers=("GRU",),
        applies=lambda n: bool(n.args["use_bias"]) and not n.args["reset_after"],
        values=_rnn_values,
        delta={"onnx": "+n"},
        text=(
            "Keras's GRU with reset_after: false keeps one bias per gate; ONNX's GRU always "
            "takes B = [Wb, Rb], and with linear_before_reset=0 the recurrent half only adds "
            "to the input half: {gates} × {units} units = {n} more (zeros when ported)."
        ),
        example=("{type: GRU, units: 8, reset_after: false}", "[null, 4]"),
    ),
    Rule(
        id="batchnorm-stats-are-buffers",
        layers=("BatchNormalization",),
        applies=lambda n: True,
        values=_bn_values,
        delta={"torch": "-n"},
        text=(
            "PyTorch keeps the moving mean and variance as buffers (running_mean, running_var: "
            "2 × {c} = {n}, plus a num_batches_tracked counter), not parameters; Keras counts "
            "them as non-trainable weights and ONNX as initializers."
        ),
        example=("{type: BatchNormalization}", "[8, 8, 16]"),
    ),
)
RULE_INDEX = {rule.id: rule for rule in RULES}


@dataclass(frozen=True)
class Explanation:
    """A rule applied to one layer: its id, delta per framework, and the filled-in text."""

    rule: str
    delta: dict[str, int]
    text: str
    count: int = 1  # layers it sums, in a collapsed block row

    @property
    def summary(self) -> str:
        return self.text if self.count == 1 else f"{self.count} layers; each: {self.text}"

    def as_dict(self, frameworks: tuple[str, ...]) -> dict[str, Any]:
        delta = {fw: self.delta.get(fw, 0) for fw in frameworks if fw != "keras"}
        return {"rule": self.rule, "delta": delta, "text": self.summary}


def explain(node: Node, copies: int = 1) -> list[Explanation]:
    """Every rule that applies to ``node`` (recursing into wrapped layers)."""
    if node.shares:
        return []  # its weights, and their differences, are the original layer's
    inner = node.inner
    if inner is not None:
        return explain(inner, copies * WRAPPER_COPIES[node.type])
    return [
        Explanation(rule.id, rule.deltas(node, copies), rule.explain(node, copies))
        for rule in RULES
        if node.type in rule.layers and rule.applies(node)
    ]


def unexplained(
    totals: dict[str, int | None], explanations: list[Explanation]
) -> dict[str, int | None]:
    """Per non-Keras framework: its total − Keras's total − the explained deltas."""
    base = totals.get("keras")
    out: dict[str, int | None] = {}
    for fw, total in totals.items():
        if fw == "keras":
            continue
        if total is None or base is None:
            out[fw] = None
            continue
        out[fw] = total - base - sum(e.delta.get(fw, 0) for e in explanations)
    return out


def storage_note(node: Node) -> str:
    """Where a layer's borrowed weights live, in every framework (empty when it owns them)."""
    if node.shares:
        return (
            f"applies '{node.shares}' again: its weights are stored and counted once, there "
            "(Keras: the same layer object called twice; PyTorch: the same module; ONNX: the same "
            "initializers)"
        )
    tied = node.links.get("tie")
    if tied is not None:
        return (
            f"its kernel is the embedding matrix of '{tied.name}', transposed, stored and counted there "
            f"(Keras: {tied.name}/embeddings; PyTorch: {tied.name}.weight; ONNX: the "
            f"{tied.name}.embeddings initializer)"
        )
    return ""
