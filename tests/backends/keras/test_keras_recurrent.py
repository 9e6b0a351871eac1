"""SimpleRNN, LSTM and GRU (reset_after both ways), every output mode, against numpy
recurrences written from Keras's definitions (gates i, f, c, o and z, r, h); stacks
(num_layers > 1) against the same Keras layers chained."""

from __future__ import annotations

import keras
import numpy as np
import pytest

from backends.keras.weights import get_weights, set_weights
from tests.harness import check_spec, one_layer

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
    check_spec(one_layer(layer, shape), "keras")


def test_two_recurrent_layers_keep_their_cell_names() -> None:
    """Keras names cells itself (lstm_cell, ...), whatever the process built before."""
    check_spec(
        "name: t\ninputs:\n  - {name: x, shape: [null, 3]}\nlayers:\n"
        "  - {type: LSTM, units: 4, return_sequences: true}\n"
        "  - {type: LSTM, units: 2, return_sequences: true}\n"
        "  - {type: GRU, units: 2}\n",
        "keras",
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
    case = check_spec(one_layer(layer, "[4, 2]"), "keras")
    rng = np.random.default_rng(1)
    weights = [rng.uniform(-0.5, 0.5, w.shape).astype(np.float32) for w in case.layer("r").weights]
    case.layer("r").set_weights(weights)
    x = case.inputs["x"]
    (out,) = case.run(x=x)
    node = case.graph.node("r")
    np.testing.assert_allclose(out, reference(node.type, x, weights, node.args), atol=1e-5)


# (type, other arguments, num_layers, return_sequences, go_backwards)
STACKS = [
    ("LSTM", "units: 3", 2, False, False),
    ("LSTM", "units: 3", 3, True, True),
    ("GRU", "units: 2, reset_after: false", 2, True, False),
    ("GRU", "units: 2, use_bias: false", 2, False, True),
    ("SimpleRNN", "units: 3, activation: relu", 2, False, False),
]


def _yaml(value: bool) -> str:
    return "true" if value else "false"


def _stack(type_: str, args: str, n: int, sequences: bool, backwards: bool) -> str:
    """One stacked layer ``r``."""
    flags = f"return_sequences: {_yaml(sequences)}, go_backwards: {_yaml(backwards)}"
    return one_layer(f"{{name: r, type: {type_}, {args}, num_layers: {n}, {flags}}}", "[4, 2]")


def _chain(type_: str, args: str, n: int, sequences: bool, backwards: bool) -> str:
    """The same stack as single Keras layers r0, r1, ... chained, all but the last
    returning sequences, each going backwards if the stack does."""
    layers = "".join(
        f"  - {{name: r{i}, type: {type_}, {args}, go_backwards: {_yaml(backwards)}, "
        f"return_sequences: {_yaml(i + 1 < n or sequences)}}}\n"
        for i in range(n)
    )
    return "name: t\ninputs:\n  - {name: x, shape: [4, 2]}\nlayers:\n" + layers


@pytest.mark.parametrize("case", STACKS, ids=[f"{c[0]}-{c[2]}" for c in STACKS])
def test_stack_is_built_measured_and_run_with_free_steps(case: tuple) -> None:
    check_spec(_stack(*case).replace("[4, 2]", "[null, 2]"), "keras")


def _random(built, seed: int) -> dict[str, np.ndarray]:
    """Random values for layer ``r``'s tensors, set on ``built``."""
    rng = np.random.default_rng(seed)
    tensors = get_weights(built)["r"]
    weights = {k: rng.uniform(-0.5, 0.5, v.shape).astype(np.float32) for k, v in tensors.items()}
    set_weights(built, {"r": weights})
    return weights


@pytest.mark.parametrize("case", STACKS, ids=[f"{c[0]}-{c[2]}" for c in STACKS])
def test_stack_equals_single_layers_chained(case: tuple) -> None:
    """Layer 0's tensors go to r0 and layer_i/...'s to ri: the outputs are the same."""
    stack, chain = check_spec(_stack(*case), "keras"), check_spec(_chain(*case), "keras")
    by_layer: dict[str, dict[str, np.ndarray]] = {}
    for name, value in _random(stack.built, 2).items():
        head, _, rest = name.partition("/")
        layer, tensor = (
            (f"r{head.removeprefix('layer_')}", rest) if rest.count("/") else ("r0", name)
        )
        by_layer.setdefault(layer, {})[tensor] = value
    set_weights(chain.built, by_layer)
    x = stack.inputs["x"]
    np.testing.assert_allclose(stack.run(x=x)[0], chain.run(x=x)[0], atol=1e-6)


def test_lstm_stack_matches_numpy() -> None:
    """Two LSTM layers of Keras's recurrence, the second reading the first's sequence."""
    case = check_spec(_stack("LSTM", "units: 3", 2, False, False), "keras")
    weights = _random(case.built, 3)
    first = [weights[f"lstm_cell/{t}"] for t in ("kernel", "recurrent_kernel", "bias")]
    second = [weights[f"layer_1/lstm_cell/{t}"] for t in ("kernel", "recurrent_kernel", "bias")]
    x = case.inputs["x"]
    hidden = reference("LSTM", x, first, {"go_backwards": False, "return_sequences": True})
    expected = reference("LSTM", hidden, second, {"go_backwards": False, "return_sequences": False})
    np.testing.assert_allclose(case.run(x=x)[0], expected, atol=1e-5)


def test_stack_reloads_from_a_saved_keras_model(tmp_path) -> None:
    """The stack classes are registered with Keras, so a saved model reloads as it was."""
    case = check_spec(_stack("GRU", "units: 2", 2, True, True), "keras")
    case.built.model.save(tmp_path / "m.keras")
    loaded = keras.saving.load_model(tmp_path / "m.keras", compile=False)
    assert loaded.get_layer("r").get_config()["num_layers"] == 2
    x = case.inputs["x"]
    np.testing.assert_allclose(loaded(x).numpy(), case.outputs[0], atol=1e-6)
