"""ONNX merge layers (Add, Multiply, Subtract, Average, Maximum, Minimum, Concatenate): several
inputs, several outputs, residual wiring."""

from __future__ import annotations

import numpy as np
import pytest

from tests.harness import check_spec
from tests.references import BROADCAST, broadcast_spec

CASES = {
    "add_two_inputs": """
        inputs: [{name: a, shape: [3]}, {name: b, shape: [3]}]
        layers: [{type: Add, inputs: [a, b]}]
    """,
    "add_three_residual": """
        inputs: [{name: x, shape: [null, 4]}]
        layers:
          - {type: Dense, units: 4, name: d1}
          - {type: Dense, units: 4, name: d2}
          - {type: Add, inputs: [x, d1, d2]}
    """,
    "multiply_three": """
        inputs: [{name: a, shape: [3]}, {name: b, shape: [3]}, {name: c, shape: [3]}]
        layers: [{type: Multiply, inputs: [a, b, c]}]
    """,
    "subtract": """
        inputs: [{name: a, shape: [null, 2]}, {name: b, shape: [null, 2]}]
        layers: [{type: Subtract, inputs: [a, b]}]
    """,
    "average_three": """
        inputs: [{name: a, shape: [3]}, {name: b, shape: [3]}, {name: c, shape: [3]}]
        layers: [{type: Average, inputs: [a, b, c]}]
    """,
    "maximum_three": """
        inputs: [{name: a, shape: [3]}, {name: b, shape: [3]}, {name: c, shape: [3]}]
        layers: [{type: Maximum, inputs: [a, b, c]}]
    """,
    "minimum": """
        inputs: [{name: a, shape: [2, 3]}, {name: b, shape: [2, 3]}]
        layers: [{type: Minimum, inputs: [a, b]}]
    """,
    "concat_last": """
        inputs: [{name: a, shape: [2, 3]}, {name: b, shape: [2, 5]}]
        layers: [{type: Concatenate, inputs: [a, b]}]
    """,
    "concat_axis1_three": """
        inputs: [{name: a, shape: [1, 3]}, {name: b, shape: [2, 3]}, {name: c, shape: [4, 3]}]
        layers: [{type: Concatenate, axis: 1, inputs: [a, b, c]}]
    """,
    "two_outputs": """
        inputs: [{name: x, shape: [4]}]
        layers:
          - {type: Dense, units: 2, name: head_a}
          - {type: Dense, units: 3, name: head_b, inputs: x}
          - {type: Concatenate, name: both, inputs: [head_a, head_b]}
        outputs: [head_b, both, head_a]
    """,
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_merge_layer(case: str, check) -> None:
    check(CASES[case])


def test_add_and_concatenate_values(forward) -> None:
    rng = np.random.default_rng(0)
    a, b, c = (rng.standard_normal((2, n, 3)).astype(np.float32) for n in (1, 2, 4))
    (y,) = forward(CASES["concat_axis1_three"], {"a": a, "b": b, "c": c})
    np.testing.assert_array_equal(y, np.concatenate([a, b, c], axis=1))
    a, b = a[:, 0], c[:, 0]
    (y,) = forward(CASES["add_two_inputs"], {"a": a, "b": b})
    np.testing.assert_allclose(y, a + b)


def test_outputs_follow_the_spec_order(check) -> None:
    case = check(CASES["two_outputs"])
    head_b, both, head_a = case.outputs
    np.testing.assert_allclose(both, np.concatenate([head_a, head_b], axis=-1))
    names = [o.name for o in case.built.model.graph.output]
    assert names == ["head_b", "both", "head_a"]


ELEMENTWISE = {
    "multiply_three": lambda a, b, c: a * b * c,
    "subtract": lambda a, b: a - b,
    "average_three": lambda a, b, c: (a + b + c) / 3,
    "maximum_three": lambda a, b, c: np.maximum(np.maximum(a, b), c),
    "minimum": np.minimum,
}


@pytest.mark.parametrize("case", sorted(ELEMENTWISE))
def test_elementwise_merge_values(case: str, load_spec, forward) -> None:
    graph = load_spec(CASES[case])
    rng = np.random.default_rng(9)
    xs = {
        name: rng.standard_normal(
            (2, *(4 if d is None else d for d in graph.node(name).output_shape))
        ).astype(np.float32)
        for name in graph.inputs
    }
    (y,) = forward(CASES[case], xs)
    np.testing.assert_allclose(y, ELEMENTWISE[case](*xs.values()), rtol=1e-6)


@pytest.mark.parametrize("case", BROADCAST)
def test_elementwise_merges_broadcast(case: str) -> None:
    *_, reference = BROADCAST[case]
    spec = broadcast_spec(case)
    run = check_spec(spec, "onnx")
    expected = reference(run.inputs["a"], run.inputs["b"])
    np.testing.assert_allclose(run.outputs[0], expected, rtol=1e-6)  # one float32 op
