"""SimpleRNN, LSTM and GRU (reset_after both ways), every output mode, against numpy
recurrences written from Keras's definitions (gates i, f, c, o and z, r, h)."""

from __future__ import annotations

import numpy as np
import pytest

from tests.backends.keras.harness import check_spec, one_layer

pytestmark = pytest.mark.keras

CASES = [
    "{type: SimpleRNN, units: 3}",
    "{type: SimpleRNN, units: 3, return_sequences: true, activation: relu, use_bias: false}",
    "{type: LSTM, units: 4}",
    "{type: LSTM, units: 4, return_sequences: true, go_backwards: true}",
    "{type: LSTM, units: 2, use_bias: false, recurrent_activation: hard_sigmoid}",
    "{type: GRU, units: 3}",
    "{type: GRU, units: 3, reset_after: false, return_sequences: true}",
    "{type: GRU, units: 3, reset_after: false, use_bias: false, go_backwards: true}",
    "{type: GRU, units: 2, reset_after: true, use_bias: false}",
]


@pytest.mark.parametrize("layer", CASES)
@pytest.mark.parametrize("shape", ["[null, 5]", "[4, 5]"])
def test_recurrent_layer(layer: str, shape: str) -> None:
    check_spec(one_layer(layer, shape))


def test_two_recurrent_layers_keep_their_cell_names() -> None:
    """Keras names cells itself (lstm_cell, ...), whatever the process built before."""
    check_spec(
        "name: t\ninputs:\n  - {name: x, shape: [null, 3]}\nlayers:\n"
        "  - {type: LSTM, units: 4, return_sequences: true}\n"
        "  - {type: LSTM, units: 2, return_sequences: true}\n"
        "  - {type: GRU, units: 2}\n"
    )


def _sigmoid(x: np.ndarray) -> np.ndarray:
    return 1 / (1 + np.exp(-x))


def _lstm_step(x, h, c, kernel, recurrent, bias, _):
    i, f, g, o = np.split(x @ kernel + h @ recurrent + bias, 4, axis=-1)
    c = _sigmoid(f) * c + _sigmoid(i) * np.tanh(g)
    return _sigmoid(o) * np.tanh(c), c


def _gru_step(x, h, c, kernel, recurrent, bias, reset_after):
    u = h.shape[-1]
    if reset_after:  # bias rows: input bias, recurrent bias
        xz, xr, xh = np.split(x @ kernel + bias[0], 3, axis=-1)
        rz, rr, rh = np.split(h @ recurrent + bias[1], 3, axis=-1)
        z, r = _sigmoid(xz + rz), _sigmoid(xr + rr)
        candidate = np.tanh(xh + r * rh)
    else:
        xz, xr, xh = np.split(x @ kernel + bias, 3, axis=-1)
        z = _sigmoid(xz + h @ recurrent[:, :u])
        r = _sigmoid(xr + h @ recurrent[:, u : 2 * u])
        candidate = np.tanh(xh + (r * h) @ recurrent[:, 2 * u :])
    return z * h + (1 - z) * candidate, c


def _simple_step(x, h, c, kernel, recurrent, bias, _):
    return np.tanh(x @ kernel + h @ recurrent + bias), c


STEPS = {"LSTM": _lstm_step, "GRU": _gru_step, "SimpleRNN": _simple_step}


def reference(type_: str, x: np.ndarray, weights: list[np.ndarray], args: dict) -> np.ndarray:
    """Keras's recurrence; go_backwards reads the sequence reversed and returns the steps in
    the order it processed them."""
    kernel, recurrent, bias = weights
    units = recurrent.shape[0]
    h = c = np.zeros((x.shape[0], units), np.float32)
    seq = x[:, ::-1] if args["go_backwards"] else x
    outs = []
    for t in range(seq.shape[1]):
        h, c = STEPS[type_](seq[:, t], h, c, kernel, recurrent, bias, args.get("reset_after"))
        outs.append(h)
    return np.stack(outs, axis=1) if args["return_sequences"] else h


NUMERIC = [
    "{name: r, type: LSTM, units: 3, return_sequences: true, go_backwards: true}",
    "{name: r, type: LSTM, units: 3}",
    "{name: r, type: GRU, units: 3, return_sequences: true}",
    "{name: r, type: GRU, units: 3, reset_after: false, go_backwards: true}",
    "{name: r, type: SimpleRNN, units: 3, return_sequences: true}",
]


@pytest.mark.parametrize("layer", NUMERIC)
def test_recurrence_matches_numpy(layer: str) -> None:
    case = check_spec(one_layer(layer, "[4, 2]"))
    rng = np.random.default_rng(1)
    weights = [rng.uniform(-0.5, 0.5, w.shape).astype(np.float32) for w in case.layer("r").weights]
    case.layer("r").set_weights(weights)
    x = case.inputs["x"]
    (out,) = case.run(x=x)
    node = case.graph.node("r")
    np.testing.assert_allclose(out, reference(node.type, x, weights, node.args), atol=1e-5)
