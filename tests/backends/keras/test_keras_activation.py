"""Activation, ReLU, LeakyReLU, Softmax, ELU, PReLU and every activation name, against numpy
formulas."""

from __future__ import annotations

import numpy as np
import pytest

from backends.keras.activation import ACTIVATIONS
from backends.keras.export import assign, export_model
from backends.keras.weights import get_weights
from tests.harness import build_case, check_spec, one_layer
from tests.references import ACTIVATIONS as ACTIVATION_REFERENCES
from tests.references import softmax as _softmax
from translator.errors import UnsupportedInBackend
from translator.spec.schema import ACTIVATIONS as SPEC_ACTIVATIONS

pytestmark = pytest.mark.keras

REFERENCE = ACTIVATION_REFERENCES  # Keras's definitions (tests/references.py)


def test_the_table_covers_every_spec_activation() -> None:
    assert sorted(ACTIVATIONS) == sorted(SPEC_ACTIVATIONS) == sorted(REFERENCE)


@pytest.fixture(scope="module")
def every_activation():
    """One model: each activation applied to the same input, one output each."""
    layers = "\n".join(
        f"  - {{name: act_{n}, type: Activation, activation: {n}, inputs: x}}"
        for n in SPEC_ACTIVATIONS
    )
    outputs = ", ".join(f"act_{n}" for n in SPEC_ACTIVATIONS)
    spec = f"name: t\ninputs:\n  - {{name: x, shape: [3, 4]}}\nlayers:\n{layers}\noutputs: [{outputs}]\n"
    return check_spec(spec, "keras")


@pytest.mark.parametrize("name", SPEC_ACTIVATIONS)
def test_activation_matches_keras_definition(every_activation, name: str) -> None:
    index = every_activation.graph.outputs.index(f"act_{name}")
    x = every_activation.inputs["x"]
    np.testing.assert_allclose(every_activation.outputs[index], REFERENCE[name](x), atol=1e-5)


LAYERS = [
    ("{type: ReLU}", lambda x: np.maximum(x, 0)),
    ("{type: ReLU, max_value: 6}", lambda x: np.clip(x, 0, 6)),
    (
        "{type: ReLU, max_value: 1.5, negative_slope: 0.1, threshold: 0.5}",
        lambda x: np.where(x >= 0.5, np.minimum(x, 1.5), 0.1 * (x - 0.5)),
    ),
    ("{type: LeakyReLU}", lambda x: np.where(x > 0, x, 0.3 * x)),
    ("{type: LeakyReLU, negative_slope: 0.05}", lambda x: np.where(x > 0, x, 0.05 * x)),
    ("{type: Softmax}", _softmax),
    ("{type: Softmax, axis: 1}", lambda x: _softmax(x, 1)),
    ("{type: Softmax, axis: [1, 2]}", lambda x: _softmax(x, (1, 2))),
    ("{type: Dense, units: 3, activation: hard_sigmoid}", None),
    ("{type: ELU}", lambda x: np.where(x > 0, x, np.exp(x) - 1)),
    ("{type: ELU, alpha: 0.5}", lambda x: np.where(x > 0, x, 0.5 * (np.exp(x) - 1))),
    ("{type: PReLU}", lambda x: np.maximum(x, 0)),  # Keras initializes alpha to zeros
    ("{type: PReLU, shared_axes: [1, 2]}", None),
]


@pytest.mark.parametrize(("layer", "reference"), LAYERS, ids=[c[0] for c in LAYERS])
def test_activation_layer(layer: str, reference) -> None:
    case = check_spec(one_layer(layer, "[3, 4]"), "keras")
    if reference is not None:
        np.testing.assert_allclose(case.outputs[0], reference(case.inputs["x"]), atol=1e-6)


@pytest.mark.parametrize(
    ("shape", "shared_axes", "alpha_shape"),
    [
        ("[3, 4]", "null", (3, 4)),
        ("[null, 4]", "[1]", (1, 4)),
        ("[2, 3, 4]", "[1, 2]", (1, 1, 4)),
    ],
)
def test_prelu_learns_a_slope_per_element_shared_along_shared_axes(
    shape: str, shared_axes: str, alpha_shape: tuple[int, ...]
) -> None:
    case = check_spec(
        one_layer(f"{{name: p, type: PReLU, shared_axes: {shared_axes}}}", shape), "keras"
    )
    alpha = np.random.default_rng(5).uniform(0.1, 0.9, alpha_shape).astype(np.float32)
    case.layer("p").set_weights([alpha])
    x = case.inputs["x"]
    (out,) = case.run(x=x)
    np.testing.assert_allclose(out, np.maximum(x, 0) - alpha * np.maximum(-x, 0), atol=1e-6)


@pytest.mark.parametrize(
    "layer",
    [
        "{type: Activation, activation: gelu_tanh}",
        "{type: Dense, units: 3, activation: gelu_tanh}",
        "{type: TimeDistributed, layer: {type: Dense, units: 2, activation: gelu_tanh}}",
        "{type: Conv1D, filters: 2, kernel_size: 2, activation: gelu_tanh}",
    ],
)
def test_export_saves_gelu_tanh_as_a_keras_ops_call(layer: str) -> None:
    """Keras saves no name for gelu's tanh form: ``model.keras`` applies ``keras.ops.gelu``
    after the layer, and computes what the backend's model computes."""
    case = check_spec(one_layer(layer, "[3, 4]"), "keras")
    exported = export_model(case.graph).model
    assign(exported, case.graph, get_weights(case.built))
    assert "gelu" not in str([layer.get_config() for layer in exported.layers])
    out = exported(case.inputs["x"])
    np.testing.assert_allclose(np.asarray(out), case.outputs[0], atol=1e-6)


def test_export_refuses_gelu_tanh_inside_a_recurrence() -> None:
    case = build_case(one_layer("{type: LSTM, units: 2, activation: gelu_tanh}", "[3, 4]"), "keras")
    with pytest.raises(UnsupportedInBackend, match="gelu_tanh inside a recurrence"):
        export_model(case.graph)
