"""The notes of the reconciliation catalogue are true on a real framework wherever they fire."""

from __future__ import annotations

import numpy as np
import pytest

from tests.harness import build_case
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
