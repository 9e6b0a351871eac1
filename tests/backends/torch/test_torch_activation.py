"""Activation layers in PyTorch: every activation name, ReLU's Keras arguments, LeakyReLU,
Softmax over one or several axes, ELU's alpha and PReLU's per-element and shared slopes,
checked against the IR and against numpy references; model.py's own ReLU read back by its
operations."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
import torch
from torch import nn

from backends.torch.activation import written_relu
from backends.torch.standalone.layers import ReLU
from tests.harness import check_spec, one_layer, set_parameters
from tests.references import ACTIVATIONS as ACTIVATION_REFERENCES
from translator.spec.schema import ACTIVATIONS

X = np.linspace(-4.0, 4.0, 16, dtype=np.float32).reshape(2, 8)


REFERENCES = ACTIVATION_REFERENCES  # Keras's definitions (tests/references.py)


def test_every_activation_name_has_a_reference() -> None:
    assert sorted(REFERENCES) == sorted(ACTIVATIONS)


@pytest.mark.parametrize("name", ACTIVATIONS)
def test_activation_by_name(name: str) -> None:
    case = check_spec(one_layer(f"{{type: Activation, activation: {name}}}", "[8]"), "torch")
    (out,) = case.run(x=X)
    np.testing.assert_allclose(out, REFERENCES[name](X.astype(np.float64)), rtol=1e-5, atol=1e-6)


def keras_relu(
    x: np.ndarray, max_value: float | None, slope: float, threshold: float
) -> np.ndarray:
    """``keras.layers.ReLU`` written out from ``keras.src.activations.ReLU.static_call``."""
    if slope and max_value is None and threshold == 0:
        return np.where(x >= 0, x, slope * x)
    y = np.where(x > threshold, x, 0.0) if threshold else np.maximum(x, 0.0)
    if max_value is not None:
        y = np.clip(y, 0.0, max_value)
    return y - slope * np.maximum(threshold - x, 0.0)


RELU_CASES = {
    "plain": (None, 0.0, 0.0),
    "relu6": (6.0, 0.0, 0.0),
    "capped": (2.5, 0.0, 0.0),
    "leaky": (None, 0.1, 0.0),
    "threshold": (None, 0.0, 1.0),
    "everything": (3.0, 0.2, 0.5),
}


@pytest.mark.parametrize("args", RELU_CASES.values(), ids=RELU_CASES.keys())
def test_relu_keras_semantics(args: tuple[float | None, float, float]) -> None:
    max_value, slope, threshold = args
    cap = "null" if max_value is None else max_value
    layer = f"{{type: ReLU, max_value: {cap}, negative_slope: {slope}, threshold: {threshold}}}"
    (out,) = check_spec(one_layer(layer, "[8]"), "torch").run(x=X)
    np.testing.assert_allclose(out, keras_relu(X, max_value, slope, threshold), atol=1e-6)


def test_leaky_relu_uses_the_spec_slope() -> None:
    case = check_spec(one_layer("{type: LeakyReLU}", "[8]"), "torch")  # Keras default 0.3
    (out,) = case.run(x=X)
    np.testing.assert_allclose(out, np.where(X > 0, X, 0.3 * X), atol=1e-6)


SOFTMAX_CASES = {"last": ("-1", (2,)), "first": ("1", (1,)), "two_axes": ("[1, 2]", (1, 2))}


@pytest.mark.parametrize("axis,axes", SOFTMAX_CASES.values(), ids=SOFTMAX_CASES.keys())
def test_softmax_axes(axis: str, axes: tuple[int, ...]) -> None:
    case = check_spec(one_layer(f"{{type: Softmax, axis: {axis}}}", "[3, 4]"), "torch")
    (x,) = case.inputs.values()
    e = np.exp(x - x.max(axis=axes, keepdims=True))
    np.testing.assert_allclose(case.outputs[0], e / e.sum(axis=axes, keepdims=True), rtol=1e-5)


def test_elu_alpha() -> None:
    case = check_spec(one_layer("{type: ELU, alpha: 0.7}", "[8]"), "torch")
    (out,) = case.run(x=X)
    np.testing.assert_allclose(out, np.where(X > 0, X, 0.7 * np.expm1(X)), rtol=1e-6, atol=1e-6)


PRELU_CASES = {
    "per_element": ("{type: PReLU}", "[3, 4]"),
    "shared_free_steps": ("{type: PReLU, shared_axes: [1]}", "[null, 4]"),
    "shared_two_axes": ("{type: PReLU, shared_axes: [1, 2]}", "[3, 4, 2]"),
}


@pytest.mark.parametrize("layer,shape", PRELU_CASES.values(), ids=PRELU_CASES.keys())
def test_prelu_layer(layer: str, shape: str) -> None:
    check_spec(one_layer(layer, shape), "torch")


def test_prelu_learns_one_slope_per_element_unless_shared() -> None:
    case = check_spec(one_layer(PRELU_CASES["shared_two_axes"][0], "[3, 4, 2]"), "torch")
    alpha = np.array([[[0.1, -0.5]]], dtype=np.float32)  # (1, 1, 2): axes 1 and 2 shared
    set_parameters(case.module("p_re_lu"), weight=alpha)
    x = case.inputs["x"]
    (out,) = case.run(x=x)
    np.testing.assert_allclose(out, np.maximum(x, 0) - alpha * np.maximum(-x, 0), rtol=1e-6)


# Importing: model.py's own ReLU module (a threshold, or a cap and a slope) is known by the
# operations it computes, with its arguments; operations on other operands or numbers are not.


def _relu_nodes(module: nn.Module) -> list[Any]:
    program = torch.export.export(module, (torch.randn(2, 6),))
    return [n for n in program.graph.nodes if n.op == "call_function"]


KERAS_RELUS = {
    "threshold": {"max_value": None, "negative_slope": 0.0, "threshold": 0.25},
    "capped_leaky": {"max_value": 2.0, "negative_slope": 0.1, "threshold": 0.0},
    "everything": {"max_value": 3.0, "negative_slope": 0.2, "threshold": 0.5},
    "capped": {"max_value": 4.0, "negative_slope": 0.0, "threshold": 0.0},
}


@pytest.mark.parametrize("case", sorted(KERAS_RELUS))
def test_the_modules_operations_are_read_with_its_arguments(case: str) -> None:
    found = written_relu(_relu_nodes(ReLU(**KERAS_RELUS[case])))
    assert found is not None and found[2] == KERAS_RELUS[case]


class _OtherThreshold(nn.Module):
    """A slope below another threshold than the one the values are kept above."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = torch.where(x > 0.5, x, torch.zeros_like(x))
        return y - 0.1 * torch.relu(0.25 - x)


class _OtherFloor(nn.Module):
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.relu(x).clamp(-1.0, 2.0)


@pytest.mark.parametrize("module", [_OtherThreshold, _OtherFloor, nn.ReLU])
def test_other_operations_are_not_keras_relu(module: type[nn.Module]) -> None:
    assert written_relu(_relu_nodes(module())) is None
