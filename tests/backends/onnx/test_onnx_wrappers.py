"""ONNX TimeDistributed and Bidirectional: every merge mode, several outputs, and values
checked against the plain layers they wrap."""

from __future__ import annotations

import numpy as np
import pytest

CASES = {
    "td_dense": ("[null, 4]", "{type: TimeDistributed, layer: {type: Dense, units: 2}}"),
    "td_dense_relu_no_bias": (
        "[3, 4]",
        "{type: TimeDistributed, layer: {type: Dense, units: 2, activation: relu, use_bias: false}}",
    ),
    "td_conv2d": (
        "[3, 5, 5, 2]",
        "{type: TimeDistributed, layer: {type: Conv2D, filters: 3, kernel_size: 2, padding: same}}",
    ),
    "td_lstm": ("[3, 4, 2]", "{type: TimeDistributed, layer: {type: LSTM, units: 3}}"),
    "td_flatten": ("[3, 2, 2]", "{type: TimeDistributed, layer: {type: Flatten}}"),
    "td_batch_norm": ("[null, 4]", "{type: TimeDistributed, layer: {type: BatchNormalization}}"),
    "bi_gru_before_last": (
        "[null, 3]",
        "{type: Bidirectional, layer: {type: GRU, units: 2, reset_after: false}}",
    ),
    "bi_rnn_none_last": (
        "[null, 3]",
        "{type: Bidirectional, merge_mode: null, layer: {type: SimpleRNN, units: 2}}",
    ),
    "bi_lstm_backwards_inner": (
        "[null, 3]",
        (
            "{type: Bidirectional, layer: {type: LSTM, units: 2, go_backwards: true,"
            " return_sequences: true}}"
        ),
    ),
}
MERGES = ("concat", "sum", "mul", "ave", "null")
for _mode in MERGES:
    for _type in ("SimpleRNN", "LSTM", "GRU"):
        CASES[f"bi_{_type.lower()}_{_mode}"] = (
            "[null, 3]",
            (
                f"{{type: Bidirectional, merge_mode: {_mode},"
                f" layer: {{type: {_type}, units: 3, return_sequences: true}}}}"
            ),
        )


def body(case: str, steps: int | None = None) -> str:
    shape, layer = CASES[case]
    if steps is not None:
        shape = shape.replace("null", str(steps))
    return f"inputs: [{{name: x, shape: {shape}}}]\nlayers: [{layer}]\n"


@pytest.mark.parametrize("case", sorted(CASES))
def test_wrapper_layer(case: str, check) -> None:
    check(body(case))


def test_time_distributed_dense_is_per_step(load_spec, forward) -> None:
    rng = np.random.default_rng(0)
    weights = {"W": rng.standard_normal((4, 2)), "B": rng.standard_normal(2)}
    x = rng.standard_normal((2, 5, 4)).astype(np.float32)
    (y,) = forward(body("td_dense"), {"x": x}, {"time_distributed": weights})
    np.testing.assert_allclose(y, x @ weights["W"] + weights["B"], rtol=1e-5, atol=1e-6)


def test_time_distributed_conv_equals_conv_per_step(load_spec, forward) -> None:
    node = load_spec(body("td_conv2d")).layers[0]
    rng = np.random.default_rng(1)
    weights = {w.name: rng.standard_normal(w.shape) for w in node.weights["onnx"]}
    x = rng.standard_normal((2, 3, 5, 5, 2)).astype(np.float32)
    (y,) = forward(body("td_conv2d"), {"x": x}, {"time_distributed": weights})
    conv = "inputs: [{name: x, shape: [5, 5, 2]}]\nlayers: [{type: Conv2D, filters: 3, kernel_size: 2, padding: same}]\n"
    (steps,) = forward(conv, {"x": x.reshape(6, 5, 5, 2)}, {"conv2d": weights})
    np.testing.assert_allclose(y, steps.reshape(2, 3, 5, 5, 3), rtol=1e-5, atol=1e-6)


COMBINE = {
    "concat": lambda f, b: [np.concatenate([f, b], axis=-1)],
    "sum": lambda f, b: [f + b],
    "mul": lambda f, b: [f * b],
    "ave": lambda f, b: [(f + b) / 2],
    "null": lambda f, b: [f, b],
}


def _halves(node, rng: np.random.Generator) -> tuple[dict, dict, dict]:
    """Stacked bidirectional weights and the forward and backward halves of them."""
    stacked = {w.name: rng.uniform(-0.5, 0.5, w.shape) for w in node.weights["onnx"]}
    forward = {k: v[:1] for k, v in stacked.items()}
    backward = {k: v[1:] for k, v in stacked.items()}
    return stacked, forward, backward


@pytest.mark.parametrize("mode", MERGES)
@pytest.mark.parametrize("type_", ["SimpleRNN", "LSTM", "GRU"])
def test_bidirectional_merges_like_keras(type_: str, mode: str, load_spec, forward) -> None:
    """Keras: merge(forward(x), flip(backward copy with go_backwards=True)(x))."""
    text = body(f"bi_{type_.lower()}_{mode}", steps=4)
    node = load_spec(text).layers[0]
    stacked, ahead, behind = _halves(node, np.random.default_rng(2))
    x = np.random.default_rng(3).standard_normal((2, 4, 3)).astype(np.float32)
    merged = forward(text, {"x": x}, {"bidirectional": stacked})
    plain = f"inputs: [{{name: x, shape: [4, 3]}}]\nlayers: [{{type: {type_}, name: r, units: 3, return_sequences: true"
    (f,) = forward(plain + "}]\n", {"x": x}, {"r": ahead})
    (b,) = forward(plain + ", go_backwards: true}]\n", {"x": x}, {"r": behind})
    expected = COMBINE[mode](f, b[:, ::-1])
    assert len(merged) == len(expected)
    for got, want in zip(merged, expected, strict=True):
        np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-6)


def test_bidirectional_last_states(load_spec, forward) -> None:
    text = body("bi_rnn_none_last", steps=4)
    node = load_spec(text).layers[0]
    stacked, ahead, behind = _halves(node, np.random.default_rng(4))
    x = np.random.default_rng(5).standard_normal((2, 4, 3)).astype(np.float32)
    f_last, b_last = forward(text, {"x": x}, {"bidirectional": stacked})
    plain = "inputs: [{name: x, shape: [4, 3]}]\nlayers: [{type: SimpleRNN, name: r, units: 2"
    (f,) = forward(plain + "}]\n", {"x": x}, {"r": ahead})
    (b,) = forward(plain + ", go_backwards: true}]\n", {"x": x}, {"r": behind})
    np.testing.assert_allclose(f_last, f, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(b_last, b, rtol=1e-5, atol=1e-6)
