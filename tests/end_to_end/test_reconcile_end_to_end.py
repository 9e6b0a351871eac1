"""The notes of the reconciliation catalogue are true on a real framework wherever they fire;
the rules of preprocessing and frozen layers explain what the real frameworks measure."""

from __future__ import annotations

import numpy as np
import pytest

from tests.harness import build_case, load
from translator.commands.compare import compare_report
from translator.reconcile import explain

pytestmark = pytest.mark.frameworks

CONV = "{type: Conv2D, name: conv, filters: 4, kernel_size: 3%s}"


@pytest.mark.parametrize(
    "between",
    [
        [],
        ["{type: Activation, activation: relu}"],
        ["{type: LeakyReLU}"],
    ],
    ids=["conv-bn", "conv-activation-bn", "conv-leaky-relu-bn"],
)
@pytest.mark.parametrize("activation", ["", ", activation: relu"], ids=["linear", "relu"])
def test_conv_bias_note_fires_exactly_when_batchnorm_cancels_the_bias(
    between: list[str], activation: str
) -> None:
    """In Keras, in training (batch statistics), the output with the biases zeroed equals the
    output with large biases exactly when the note fires."""
    layers = [CONV % activation, *between, "{type: BatchNormalization}"]
    body = "inputs: [{name: x, shape: [6, 6, 2]}]\nlayers:\n" + "".join(
        f"  - {layer}\n" for layer in layers
    )
    case = build_case(body, "keras")
    fires = any(e.rule == "conv-bias-before-batchnorm" for e in explain(case.graph.node("conv")))
    conv = case.built.model.get_layer("conv")
    x = np.random.default_rng(0).normal(size=(8, 6, 6, 2)).astype("float32")
    outputs = []
    for bias in (0.0, 3.0):
        conv.bias.assign(np.full(4, bias, dtype="float32"))
        outputs.append(np.asarray(case.built.model(x, training=True)))
    gap = float(np.abs(outputs[0] - outputs[1]).max())
    assert (gap < 1e-4) is fires, gap


# (id, spec body, layer, its rules, its measured params per framework)
MEASURED = [
    (
        "normalization-per-channel",
        "inputs: [{name: x, shape: [6, 6, 3]}]\nlayers:\n  - {type: Normalization, name: norm}\n",
        "norm",
        ["normalization-stats-and-count"],
        {
            "keras": {"total": 7, "trainable": 0, "non_trainable": 7},
            "torch": {"total": 0, "trainable": 0, "non_trainable": 0, "buffers": 6},
            "onnx": {"total": 6},
        },
    ),
    (
        "normalization-two-axes-frozen",
        (
            "inputs: [{name: x, shape: [4, 5, 3]}]\nlayers:\n"
            "  - {type: Normalization, axis: [1, 2], invert: true, trainable: false, name: norm}\n"
        ),
        "norm",
        ["normalization-stats-and-count"],
        {
            "keras": {"total": 41, "trainable": 0, "non_trainable": 41},
            "torch": {"total": 0, "trainable": 0, "non_trainable": 0, "buffers": 40},
            "onnx": {"total": 40},
        },
    ),
    (
        "frozen-dense-counts-alike",
        (
            "inputs: [{name: x, shape: [5]}]\nlayers:\n"
            "  - {type: Dense, units: 3, trainable: false, name: frozen}\n  - {type: Dense, units: 2}\n"
        ),
        "frozen",
        ["frozen-weights"],
        {
            "keras": {"total": 18, "trainable": 0, "non_trainable": 18},
            "torch": {"total": 18, "trainable": 0, "non_trainable": 18, "buffers": 0},
            "onnx": {"total": 18},
        },
    ),
    (
        "frozen-batchnorm",
        (
            "inputs: [{name: x, shape: [4, 4, 2]}]\nlayers:\n"
            "  - {type: BatchNormalization, trainable: false, name: bn}\n"
        ),
        "bn",
        ["batchnorm-stats-are-buffers", "frozen-weights"],
        {
            "keras": {"total": 8, "trainable": 0, "non_trainable": 8},
            "torch": {"total": 4, "trainable": 0, "non_trainable": 4, "buffers": 5},
            "onnx": {"total": 8},
        },
    ),
    (
        "frozen-wrapper-of-an-unmarked-layer",
        (
            "inputs: [{name: x, shape: [5, 3]}]\nlayers:\n"
            "  - {type: Bidirectional, layer: {type: GRU, units: 2}, trainable: false, name: bi}\n"
        ),
        "bi",
        ["frozen-weights"],
        {
            "keras": {"total": 84, "trainable": 0, "non_trainable": 84},
            "torch": {"total": 84, "trainable": 0, "non_trainable": 84, "buffers": 0},
            "onnx": {"total": 84},
        },
    ),
]


@pytest.mark.parametrize(
    ("body", "layer", "rules", "params"), [c[1:] for c in MEASURED], ids=[c[0] for c in MEASURED]
)
def test_rules_explain_what_the_frameworks_measure(
    body: str, layer: str, rules: list[str], params: dict[str, dict[str, int]]
) -> None:
    """``compare`` on the real frameworks: the measured counts, every difference explained."""
    report = compare_report(load(body))
    row = next(r for r in report.rows if r.name == layer)
    assert row.params == params
    assert [e.rule for e in row.explanations] == rules
    assert row.unexplained == {"torch": 0, "onnx": 0}
    assert all(set(u.values()) == {0} for u in (r.unexplained for r in report.rows))
