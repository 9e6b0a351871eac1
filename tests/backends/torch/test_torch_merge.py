"""Merge layers in PyTorch: Add, Multiply, Subtract, Average, Maximum, Minimum and
Concatenate over two or more inputs, including the two outputs of a Bidirectional with
merge_mode null."""

from __future__ import annotations

import numpy as np
import pytest

from tests.harness import check_spec
from tests.references import BROADCAST, broadcast_spec

THREE_INPUTS = """
name: case
inputs: [{name: a, shape: [2, 3]}, {name: b, shape: [2, 3]}, {name: c, shape: [2, 4]}]
layers:
"""
CASES = {
    "add_two": "- {type: Add, inputs: [a, b]}",
    "add_three": "- {type: Add, inputs: [a, b, a]}",
    "concat_last": "- {type: Concatenate, inputs: [a, b, c]}",
    "concat_axis1": "- {type: Concatenate, axis: 1, inputs: [a, b]}",
    "concat_negative_axis": "- {type: Concatenate, axis: -2, inputs: [b, a]}",
    "multiply": "- {type: Multiply, inputs: [a, b, a]}",
    "subtract": "- {type: Subtract, inputs: [b, a]}",
    "average": "- {type: Average, inputs: [a, b, a]}",
    "maximum": "- {type: Maximum, inputs: [a, b]}",
    "minimum": "- {type: Minimum, inputs: [a, b, a]}",
}


@pytest.mark.parametrize("layer", CASES.values(), ids=CASES.keys())
def test_merge_layer(layer: str) -> None:
    check_spec(THREE_INPUTS + "  " + layer + "\n", "torch")


def test_add_and_concatenate_values() -> None:
    spec = (
        THREE_INPUTS
        + "  - {type: Add, inputs: [a, b, a]}\n  - {type: Concatenate, inputs: [add, c]}\n"
    )
    case = check_spec(spec, "torch")
    a, b, c = (case.inputs[n] for n in "abc")
    np.testing.assert_allclose(case.outputs[0], np.concatenate([2 * a + b, c], axis=-1), rtol=1e-6)


def test_concatenate_the_two_outputs_of_a_bidirectional() -> None:
    spec = """
name: case
inputs: [{name: x, shape: [null, 2]}]
layers:
  - {type: Bidirectional, name: both, merge_mode: null, layer: {type: LSTM, units: 3}}
  - {type: Concatenate, inputs: both}
"""
    case = check_spec(spec, "torch")
    assert case.outputs[0].shape == (2, 6)


ELEMENTWISE = {
    "Multiply": lambda a, b: a * b * a,
    "Subtract": lambda a, b: b - a,
    "Average": lambda a, b: (a + b + a) / 3,
    "Maximum": np.maximum,
    "Minimum": np.minimum,
}


@pytest.mark.parametrize("kind", ELEMENTWISE)
def test_elementwise_values(kind: str) -> None:
    case = check_spec(THREE_INPUTS + "  " + CASES[kind.lower()] + "\n", "torch")
    a, b = case.inputs["a"], case.inputs["b"]
    np.testing.assert_allclose(case.outputs[0], ELEMENTWISE[kind](a, b), rtol=1e-6)


@pytest.mark.parametrize("case", BROADCAST)
def test_elementwise_merges_broadcast(case: str) -> None:
    *_, reference = BROADCAST[case]
    spec = broadcast_spec(case)
    run = check_spec(spec, "torch")
    expected = reference(run.inputs["a"], run.inputs["b"])
    np.testing.assert_allclose(run.outputs[0], expected, rtol=1e-6)  # one float32 op
