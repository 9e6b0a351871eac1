"""Recurrent layers in PyTorch: native modules where exact, the custom module otherwise
(other activations, Keras's reset-before GRU, a go_backwards stack); numerics against numpy,
between the custom and native modules, and of a num_layers stack against chained layers."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from backends.torch.recurrent import recurrent_call
from backends.torch.standalone.describe import instantiate
from backends.torch.standalone.recurrent import CustomRecurrent
from tests.harness import check_spec, one_layer, set_parameters
from translator.spec.loader import load_text

CASES = {
    "rnn": "{type: SimpleRNN, units: 3}",
    "rnn_relu_sequences": "{type: SimpleRNN, units: 3, activation: relu, return_sequences: true}",
    "rnn_custom_activation": "{type: SimpleRNN, units: 3, activation: sigmoid}",
    "rnn_alias_no_bias": "{type: RNN, units: 3, use_bias: false}",
    "lstm": "{type: LSTM, units: 4}",
    "lstm_sequences_backwards": "{type: LSTM, units: 4, return_sequences: true, go_backwards: true}",
    "lstm_no_bias": "{type: LSTM, units: 4, use_bias: false}",
    "lstm_custom": "{type: LSTM, units: 4, activation: relu, recurrent_activation: hard_sigmoid}",
    "lstm_linear": "{type: LSTM, units: 2, activation: null, return_sequences: true}",
    "gru": "{type: GRU, units: 3}",
    "gru_custom": "{type: GRU, units: 3, recurrent_activation: hard_sigmoid}",
    "gru_reset_before": "{type: GRU, units: 3, reset_after: false, return_sequences: true}",
    "gru_reset_before_no_bias": "{type: GRU, units: 3, reset_after: false, use_bias: false}",
    "gru_reset_before_backwards": "{type: GRU, units: 3, reset_after: false, go_backwards: true}",
    "lstm_stack": "{type: LSTM, units: 4, num_layers: 2}",
    "lstm_stack_no_bias": "{type: LSTM, units: 4, num_layers: 3, use_bias: false}",
    "gru_stack_backwards": "{type: GRU, units: 3, num_layers: 2, go_backwards: true}",
    "gru_reset_before_stack": "{type: GRU, units: 3, num_layers: 2, reset_after: false}",
    "rnn_custom_stack": "{type: SimpleRNN, units: 3, num_layers: 2, activation: sigmoid}",
}


@pytest.mark.parametrize("layer", CASES.values(), ids=CASES.keys())
def test_recurrent_layer(layer: str) -> None:
    check_spec(one_layer(layer, "[null, 2]"), "torch")


def test_native_modules_where_exact() -> None:
    assert isinstance(
        check_spec(one_layer(CASES["lstm"], "[4, 2]"), "torch").module("lstm"), torch.nn.LSTM
    )
    assert isinstance(
        check_spec(one_layer(CASES["gru"], "[4, 2]"), "torch").module("gru"), torch.nn.GRU
    )
    custom = check_spec(one_layer(CASES["gru_reset_before"], "[4, 2]"), "torch").module("gru")
    assert isinstance(custom, CustomRecurrent)
    stack = check_spec(one_layer(CASES["lstm_stack"], "[4, 2]"), "torch").module("lstm")
    assert isinstance(stack, torch.nn.LSTM) and stack.num_layers == 2
    backwards = check_spec(one_layer(CASES["gru_stack_backwards"], "[4, 2]"), "torch").module("gru")
    assert isinstance(backwards, CustomRecurrent)  # a native stack reverses only its input


def sigmoid(x: np.ndarray) -> np.ndarray:
    return 1 / (1 + np.exp(-x))


def test_lstm_matches_numpy_with_constant_weights() -> None:
    case = check_spec(
        one_layer("{type: LSTM, units: 2, return_sequences: true}", "[3, 1]"), "torch"
    )
    set_parameters(
        case.module("lstm"), weight_ih_l0=0.5, weight_hh_l0=-0.25, bias_ih_l0=0.1, bias_hh_l0=0.0
    )
    x = np.array([[[1.0], [-1.0], [2.0]]], dtype=np.float32)
    h, c, expected = np.zeros(2), np.zeros(2), []
    for t in range(3):
        z = 0.5 * x[0, t, 0] - 0.25 * h.sum() + 0.1  # every gate row is the same
        c = sigmoid(z) * c + sigmoid(z) * np.tanh(z)
        h = sigmoid(z) * np.tanh(c)
        expected.append(h)
    np.testing.assert_allclose(case.run(x=x)[0][0], expected, rtol=1e-5, atol=1e-6)


def keras_gru_reset_before(
    x: np.ndarray, kernel: np.ndarray, recurrent: np.ndarray, bias: np.ndarray
) -> np.ndarray:
    """Keras's GRUCell with reset_after=False, gates z, r, h; Keras layouts (in, 3u), (u, 3u)."""
    u = recurrent.shape[0]
    h = np.zeros((x.shape[0], u))
    for t in range(x.shape[1]):
        xz, xr, xh = np.split(x[:, t] @ kernel + bias, 3, axis=-1)
        z = sigmoid(xz + h @ recurrent[:, :u])
        r = sigmoid(xr + h @ recurrent[:, u : 2 * u])
        candidate = np.tanh(xh + (r * h) @ recurrent[:, 2 * u :])
        h = z * h + (1 - z) * candidate
    return h


def test_gru_reset_before_matches_keras_recurrence() -> None:
    case = check_spec(one_layer("{type: GRU, units: 3, reset_after: false}", "[4, 2]"), "torch")
    rng = np.random.default_rng(3)
    kernel, recurrent = rng.standard_normal((2, 9)), rng.standard_normal((3, 9))
    bias = rng.standard_normal(9)
    module = case.module("gru")
    set_parameters(module, weight_ih_l0=kernel.T, weight_hh_l0=recurrent.T, bias_l0=bias)
    x = case.inputs["x"]
    expected = keras_gru_reset_before(x.astype(np.float64), kernel, recurrent, bias)
    np.testing.assert_allclose(case.run(x=x)[0], expected, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("layer", ["SimpleRNN", "LSTM", "GRU"])
@pytest.mark.parametrize(
    "bidirectional,num_layers", [(False, 1), (True, 1), (False, 2)], ids=["one", "two_way", "stack"]
)
def test_custom_module_equals_native_module(
    layer: str, bidirectional: bool, num_layers: int
) -> None:
    """The custom recurrence with tanh/sigmoid reproduces the native module's numbers."""
    spec = one_layer(
        f"{{type: {layer}, units: 3, return_sequences: true, num_layers: {num_layers}}}", "[5, 2]"
    )
    node = load_text(spec).node(layer.lower() if layer != "SimpleRNN" else "simple_rnn")
    # The layer itself is torch's own module (nn.RNN, nn.LSTM, nn.GRU).
    assert isinstance(check_spec(spec, "torch").module(node.name), torch.nn.RNNBase)
    native = instantiate(recurrent_call(node, True, bidirectional=bidirectional))
    custom = instantiate(recurrent_call(node, False, bidirectional=bidirectional))
    assert isinstance(custom, CustomRecurrent) and not isinstance(native, CustomRecurrent)
    custom.load_state_dict(native.state_dict())
    x = torch.randn(2, 5, 2)
    with torch.no_grad():
        torch.testing.assert_close(custom.scan(x), native.scan(x), rtol=1e-5, atol=1e-6)


def test_go_backwards_returns_the_reversed_processing_order() -> None:
    forward = check_spec(
        one_layer("{type: SimpleRNN, units: 2, return_sequences: true}", "[4, 1]"), "torch"
    )
    backward = check_spec(
        one_layer(
            "{type: SimpleRNN, units: 2, return_sequences: true, go_backwards: true}", "[4, 1]"
        ),
        "torch",
    )
    x = forward.inputs["x"]
    # Same seed, same weights: going backwards is running forwards over the reversed input.
    np.testing.assert_allclose(backward.run(x=x)[0], forward.run(x=x[:, ::-1])[0], rtol=1e-6)


def stack_and_chain(layer: str, depth: int, sequences: bool) -> tuple[str, str]:
    """A ``num_layers: depth`` stack of ``layer`` (a flow mapping's body) and the same layers
    chained by hand: every one but the last returns its whole sequence to the next, the last
    returns what the stack returns (``sequences``)."""
    head = "name: stack\ninputs: [{name: x, shape: [5, 2]}]\nlayers:\n"
    last = str(sequences).lower()
    stack = f"{head}  - {{name: rnn, {layer}, num_layers: {depth}, return_sequences: {last}}}\n"
    chain = "".join(
        f"  - {{name: rnn_{i}, {layer}, return_sequences: {'true' if i < depth - 1 else last}}}\n"
        for i in range(depth)
    )
    return stack, head + chain


CHAINS = {
    "lstm": ("type: LSTM, units: 3", 2, False),
    "lstm_sequences": ("type: LSTM, units: 3", 3, True),
    "lstm_backwards": ("type: LSTM, units: 3, go_backwards: true", 2, True),
    "gru_backwards_last": ("type: GRU, units: 3, go_backwards: true", 3, False),
    "gru_reset_before": ("type: GRU, units: 3, reset_after: false", 2, True),
    "rnn_relu_no_bias": ("type: SimpleRNN, units: 3, activation: relu, use_bias: false", 2, False),
    "rnn_custom": ("type: SimpleRNN, units: 3, activation: sigmoid, go_backwards: true", 2, True),
}


@pytest.mark.parametrize("layer,depth,sequences", CHAINS.values(), ids=CHAINS.keys())
def test_a_stack_equals_chained_layers_with_the_same_weights(
    layer: str, depth: int, sequences: bool
) -> None:
    stack_spec, chain_spec = stack_and_chain(layer, depth, sequences)
    stack, chain = check_spec(stack_spec, "torch"), check_spec(chain_spec, "torch", seed=1)
    state = stack.module("rnn").state_dict()
    for i in range(depth):
        # Stacked layer i's tensors (*_l{i}) are chained layer rnn_i's (*_l0).
        mine = {k.replace(f"_l{i}", "_l0"): v for k, v in state.items() if f"_l{i}" in k}
        chain.module(f"rnn_{i}").load_state_dict(mine)
    x = stack.inputs["x"]
    np.testing.assert_allclose(stack.run(x=x)[0], chain.run(x=x)[0], rtol=1e-5, atol=1e-6)
