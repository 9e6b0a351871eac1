"""``port``'s and ``export``'s verdict (framework-free): every output element within
``atol + rtol·|ref|``, as ``numpy.isclose`` reads it; the max abs and max rel columns stay."""

from __future__ import annotations

import math

import pytest

from translator.commands.port import difference, tolerance

NAN = float("nan")


@pytest.mark.parametrize(
    ("ref", "got", "atol", "rtol", "within"),
    [
        ([1.0, -2.0], [1.0, -2.0], 0.0, 0.0, True),  # identical: within even at zero
        ([0.0], [9e-6], 1e-5, 0.0, True),
        ([0.0], [2e-5], 1e-5, 1e-5, False),  # |ref| = 0: only atol
        ([1000.0], [1000.005], 1e-5, 1e-5, True),  # 0.005 ≤ 1e-5 + 1e-5·1000
        ([1000.0], [1000.005], 1e-5, 0.0, False),  # atol alone does not fit float32 at 1000
        ([1000.0, 0.0], [1000.005, 1e-4], 1e-5, 1e-5, False),  # element-wise, not the largest
        ([1.0], [NAN], 1.0, 1.0, False),  # NaN is never within
        ([[1.0, 2.0]], [1.0, 2.0], 1.0, 1.0, False),  # another shape
        ([], [], 0.0, 0.0, True),  # an empty output
    ],
)
def test_within_is_element_wise_atol_plus_rtol(
    ref: list, got: list, atol: float, rtol: float, within: bool
) -> None:
    assert difference("torch", "dense", 0, ref, got, atol, rtol).within is within


@pytest.mark.parametrize(
    ("ref", "got", "max_abs", "max_rel"),
    [
        ([1000.0, 0.0], [1000.005, 1e-4], 0.005, 0.005 / 1000),
        ([2.0, -4.0], [2.5, -4.0], 0.5, 0.5 / 4),
        ([0.0], [0.0], 0.0, 0.0),
    ],
)
def test_max_abs_and_max_rel_stay_as_they_were(
    ref: list, got: list, max_abs: float, max_rel: float
) -> None:
    found = difference("onnx", "out", 0, ref, got, 1e-5, 1e-5)
    assert math.isclose(found.max_abs, max_abs, rel_tol=1e-9, abs_tol=1e-12)
    assert math.isclose(found.max_rel, max_rel, rel_tol=1e-6, abs_tol=1e-12)


@pytest.mark.parametrize(
    ("atol", "rtol", "text"),
    [(1e-5, 1e-5, "atol 1e-05, rtol 1e-05"), (0.0, 0.001, "atol 0, rtol 0.001")],
)
def test_the_rule_as_printed(atol: float, rtol: float, text: str) -> None:
    assert tolerance(atol, rtol) == text


def test_port_notes_each_frozen_layer_with_weights_once() -> None:
    """``trainable: false``: a note per frozen layer that holds weights (a weightless one has
    nothing to freeze, a shared one is its original's); ONNX is named as carrying no flag."""
    from translator.commands.port import hyperparameter_notes
    from translator.spec.loader import load_text

    graph = load_text(
        "name: m\ninputs: [{name: x, shape: [4]}]\nlayers:\n"
        "  - {type: Dense, units: 3, name: enc, trainable: false}\n"
        "  - {type: ReLU, trainable: false}\n"
        "  - {share: enc, inputs: x, name: again}\n"
        "  - {type: Dense, units: 2, inputs: again}\n"
    )
    frozen = [n for n in hyperparameter_notes(graph) if "frozen:" in n]
    assert frozen == [
        (
            "enc (Dense): frozen: Keras layer.trainable = False, PyTorch requires_grad_(False); "
            "ONNX initializers carry no such flag"
        )
    ]
