"""Add, Multiply, Subtract, Average, Maximum, Minimum and Concatenate over two or more
inputs, including separate model inputs, against numpy."""

from __future__ import annotations

import numpy as np
import pytest

from tests.harness import check_spec
from tests.references import BROADCAST, broadcast_spec

pytestmark = pytest.mark.keras

THREE_INPUTS = """
name: t
inputs:
  - {name: a, shape: [4, 3]}
  - {name: b, shape: [4, 3]}
  - {name: c, shape: [4, 2]}
layers:
  - {name: m, type: MERGE, inputs: INPUTS}
"""
CASES = [
    ("Add", "[a, b]"),
    ("Add", "[a, b, a]"),
    ("Concatenate", "[a, b, c]"),
    ("Concatenate, axis: 1", "[a, b]"),
    ("Concatenate, axis: -2", "[a, b]"),
    ("Multiply", "[a, b, a]"),
    ("Subtract", "[a, b]"),
    ("Average", "[a, b, a]"),
    ("Maximum", "[a, b]"),
    ("Minimum", "[b, a, b]"),
]


@pytest.mark.parametrize(("merge", "inputs"), CASES)
def test_merge_layer(merge: str, inputs: str) -> None:
    check_spec(THREE_INPUTS.replace("MERGE", merge).replace("INPUTS", inputs), "keras")


def test_merges_compute_sum_and_join() -> None:
    spec = """
name: t
inputs:
  - {name: a, shape: [3]}
  - {name: b, shape: [3]}
layers:
  - {name: total, type: Add, inputs: [a, b, b]}
  - {name: joined, type: Concatenate, inputs: [a, total]}
outputs: [total, joined]
"""
    case = check_spec(spec, "keras")
    a, b = case.inputs["a"], case.inputs["b"]
    total, joined = case.outputs
    np.testing.assert_allclose(total, a + 2 * b, atol=1e-6)
    np.testing.assert_allclose(joined, np.concatenate([a, a + 2 * b], axis=-1), atol=1e-6)


def test_elementwise_merges_compute_numpy() -> None:
    spec = """
name: t
inputs:
  - {name: a, shape: [2, 3]}
  - {name: b, shape: [2, 3]}
  - {name: c, shape: [2, 3]}
layers:
  - {name: prod, type: Multiply, inputs: [a, b, c]}
  - {name: diff, type: Subtract, inputs: [b, a]}
  - {name: mean, type: Average, inputs: [a, b, c]}
  - {name: high, type: Maximum, inputs: [a, b, c]}
  - {name: low, type: Minimum, inputs: [c, a]}
outputs: [prod, diff, mean, high, low]
"""
    case = check_spec(spec, "keras")
    a, b, c = (case.inputs[k] for k in "abc")
    expected = [
        a * b * c,
        b - a,
        (a + b + c) / 3,
        np.maximum(np.maximum(a, b), c),
        np.minimum(c, a),
    ]
    for out, want in zip(case.outputs, expected, strict=True):
        np.testing.assert_allclose(out, want, atol=1e-6)


@pytest.mark.parametrize("case", BROADCAST)
def test_elementwise_merges_broadcast(case: str) -> None:
    *_, reference = BROADCAST[case]
    spec = broadcast_spec(case)
    run = check_spec(spec, "keras")
    expected = reference(run.inputs["a"], run.inputs["b"])
    np.testing.assert_allclose(run.outputs[0], expected, rtol=1e-6)  # one float32 op
