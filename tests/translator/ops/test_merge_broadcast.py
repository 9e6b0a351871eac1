"""The element-wise merges' shape rule: inputs of one rank broadcast (per axis one size, or
1; null is a free size), anything else is one error line naming both shapes."""

from __future__ import annotations

import pytest

from translator.errors import SpecErrors
from translator.spec.loader import load_text


def _spec(merge: str, a: str, b: str) -> str:
    return (
        f"name: m\ninputs: [{{name: a, shape: {a}}}, {{name: b, shape: {b}}}]\nlayers:\n"
        f"  - {{name: out, type: {merge}, inputs: [a, b]}}\n"
    )


# (merge, shape of a, shape of b, output shape)
BROADCASTS = [
    ("Multiply", "[4, 4, 3]", "[1, 1, 3]", (4, 4, 3)),
    ("Add", "[4, 1, 3]", "[1, 5, 1]", (4, 5, 3)),
    ("Subtract", "[1, 1, 3]", "[4, 4, 3]", (4, 4, 3)),
    ("Average", "[null, 3]", "[1, 3]", (None, 3)),
    ("Maximum", "[null, 3]", "[7, 3]", (7, 3)),
    ("Minimum", "[2, 3]", "[2, 3]", (2, 3)),
]


@pytest.mark.parametrize(("merge", "a", "b", "shape"), BROADCASTS)
def test_inputs_broadcast(merge: str, a: str, b: str, shape: tuple[int | None, ...]) -> None:
    assert load_text(_spec(merge, a, b)).node("out").output_shape == shape


# (merge, shape of a, shape of b, the shapes as the message names them)
CLASHES = [
    ("Multiply", "[4, 4, 3]", "[1, 1, 2]", "(None, 4, 4, 3), (None, 1, 1, 2)"),
    ("Add", "[4, 3]", "[3]", "(None, 4, 3), (None, 3)"),
    ("Maximum", "[2, 3]", "[3, 2]", "(None, 2, 3), (None, 3, 2)"),
]


@pytest.mark.parametrize(("merge", "a", "b", "named"), CLASHES)
def test_shapes_that_do_not_broadcast_are_one_line(merge: str, a: str, b: str, named: str) -> None:
    with pytest.raises(SpecErrors) as caught:
        load_text(_spec(merge, a, b), "spec.yaml")
    (line,) = (e.render() for e in caught.value.errors)
    assert line == (
        f"spec.yaml:4:5: error: layer 'out' ({merge}): the input shapes do not broadcast."
        f" Received input shape {named}; inputs of one rank, each axis of one size or 1"
        " (e.g. (1, 1, C) and (H, W, C))"
    )
