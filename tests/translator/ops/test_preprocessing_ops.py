"""Normalization in the IR (framework-free): the tensors each framework creates, with mean and
variance stored (weights) or given (constants, no weights), and the errors for given values
that do not fit."""

from __future__ import annotations

import pytest

from translator.errors import SpecErrors
from translator.spec.loader import load_text

HEAD = "name: m\ninputs: [{name: x, shape: [5, 4, 3]}]\nlayers:\n"

# (id, layer arguments, keras tensors, torch tensors (all buffers), onnx tensors)
CASES = [
    ("per-channel", "", [("mean", (3,)), ("variance", (3,)), ("count", ())], 6, 6),
    ("two-axes", ", axis: [1, 2]", [("mean", (5, 4)), ("variance", (5, 4)), ("count", ())], 40, 40),
    ("given-list", ", mean: [1, 2, 3], variance: [1, 1, 1]", [], 0, 0),
    ("given-scalars", ", axis: [1, 2], mean: 0.5, variance: 2", [], 0, 0),
]


@pytest.mark.parametrize(
    ("args", "keras", "buffers", "onnx"), [c[1:] for c in CASES], ids=[c[0] for c in CASES]
)
def test_normalization_tensors(
    args: str, keras: list[tuple[str, tuple[int, ...]]], buffers: int, onnx: int
) -> None:
    node = load_text(HEAD + f"  - {{type: Normalization{args}}}\n").layers[0]
    assert [(w.name, w.shape) for w in node.weights["keras"]] == keras
    assert not any(w.trainable for w in node.weights["keras"])
    assert all(w.buffer for w in node.weights["torch"])
    assert node.counts("torch") == {
        "total": 0,
        "trainable": 0,
        "non_trainable": 0,
        "buffers": buffers,
    }
    assert node.counts("onnx") == {"total": onnx}


ERRORS = [
    ("mean-alone", ", mean: [1, 2, 3]", "'mean' and 'variance' go together"),
    (
        "wrong-length",
        ", mean: [1, 2], variance: [1, 1]",
        "a list of 2 values for statistics of shape (3,)",
    ),
    ("list-over-two-axes", ", axis: [1, 2], mean: [1, 2], variance: [1, 1]", "a list of 2 values"),
    ("not-a-number", ", mean: [1, a, 3], variance: [1, 1, 1]", "invalid value for 'mean'"),
]


@pytest.mark.parametrize(("args", "fragment"), [c[1:] for c in ERRORS], ids=[c[0] for c in ERRORS])
def test_given_statistics_that_do_not_fit_are_one_error(args: str, fragment: str) -> None:
    with pytest.raises(SpecErrors) as found:
        load_text(HEAD + f"  - {{type: Normalization{args}}}\n")
    (line,) = str(found.value).splitlines()
    assert line.startswith("<spec>:4:") and "layer 'normalization' (Normalization)" in line
    assert fragment in line
