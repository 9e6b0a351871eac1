"""ONNX SimpleRNN, LSTM and GRU: structure, counts, and outputs against a numpy recurrence
written in ONNX's gate order (LSTM i,o,f,c; GRU z,r,h) with Keras's equations."""

from __future__ import annotations

import json
from types import SimpleNamespace

import numpy as np
import pytest
import yaml

CASES = {
    "simple_rnn": "{type: SimpleRNN, units: 4}",
    "simple_rnn_relu_sequences": "{type: SimpleRNN, units: 3, activation: relu, return_sequences: true}",
    "lstm": "{type: LSTM, units: 4}",
    "lstm_sequences_backwards": "{type: LSTM, units: 3, return_sequences: true, go_backwards: true}",
    "lstm_no_bias": "{type: LSTM, units: 2, use_bias: false}",
    "lstm_hard_sigmoid_linear": (
        "{type: LSTM, units: 3, recurrent_activation: hard_sigmoid, activation: null}"
    ),
    "gru_reset_after": "{type: GRU, units: 4, return_sequences: true}",
    "gru_reset_before": "{type: GRU, units: 4, reset_after: false}",
    "gru_reset_before_backwards_sequences": (
        "{type: GRU, units: 2, reset_after: false, go_backwards: true, return_sequences: true}"
    ),
    "gru_no_bias_elu_softsign": (
        "{type: GRU, units: 3, use_bias: false, activation: elu, recurrent_activation: softsign}"
    ),
}


def body(layer: str, steps: str = "null") -> str:
    return f"inputs: [{{name: x, shape: [{steps}, 3]}}]\nlayers: [{layer}]\n"


@pytest.mark.parametrize("case", sorted(CASES))
def test_recurrent_layer(case: str, check) -> None:
    check(body(CASES[case]))


def _sigmoid(x: np.ndarray) -> np.ndarray:
    return 1 / (1 + np.exp(-x))


FUNCTIONS = {
    "sigmoid": _sigmoid,
    "tanh": np.tanh,
    "relu": lambda x: np.maximum(x, 0),
    "hard_sigmoid": lambda x: np.clip(x + 3, 0, 6) / 6,
    "linear": lambda x: x,
    None: lambda x: x,
    "elu": lambda x: np.where(x > 0, x, np.exp(x) - 1),
    "softsign": lambda x: x / (1 + np.abs(x)),
    "leaky_relu": lambda x: np.where(x >= 0, x, 0.2 * x),
    "softplus": lambda x: np.log1p(np.exp(x)),
}


def _lstm_step(a: dict, x, h, c, w, r, bias):
    u = a["units"]
    gates = x @ w.T + h @ r.T + bias[: 4 * u] + bias[4 * u :]
    i, o, f, g = np.split(gates, 4, axis=1)
    act, rec = FUNCTIONS[a["activation"]], FUNCTIONS[a["recurrent_activation"]]
    c = rec(f) * c + rec(i) * act(g)
    return rec(o) * act(c), c


def _gru_step(a: dict, x, h, c, w, r, bias):
    u = a["units"]
    wb, rb = bias[: 3 * u], bias[3 * u :]
    act, rec = FUNCTIONS[a["activation"]], FUNCTIONS[a["recurrent_activation"]]
    xz, xr, xh = np.split(x @ w.T + wb, 3, axis=1)
    hz, hr = np.split(h @ r[: 2 * u].T + rb[: 2 * u], 2, axis=1)
    z, reset = rec(xz + hz), rec(xr + hr)
    if a["reset_after"]:
        candidate = act(xh + reset * (h @ r[2 * u :].T + rb[2 * u :]))
    else:
        candidate = act(xh + (reset * h) @ r[2 * u :].T + rb[2 * u :])
    return (1 - z) * candidate + z * h, c


def _rnn_step(a: dict, x, h, c, w, r, bias):
    u = a["units"]
    return FUNCTIONS[a["activation"]](x @ w.T + h @ r.T + bias[:u] + bias[u:]), c


STEPS = {"LSTM": _lstm_step, "GRU": _gru_step, "SimpleRNN": _rnn_step}


def reference(node, x: np.ndarray, weights: dict[str, np.ndarray]) -> np.ndarray:
    """Keras's output: processing order for go_backwards, the last state unless sequences."""
    a = node.args
    w, r = weights["W"][0], weights["R"][0]
    bias = weights["B"][0] if "B" in weights else np.zeros(2 * w.shape[0])
    h = c = np.zeros((x.shape[0], a["units"]))
    seq = x[:, ::-1] if a["go_backwards"] else x
    outputs = []
    for t in range(seq.shape[1]):
        h, c = STEPS[node.type](a, seq[:, t], h, c, w, r, bias)
        outputs.append(h)
    return np.stack(outputs, axis=1) if a["return_sequences"] else h


def random_weights(node, seed: int = 3) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(seed)
    return {
        w.name: rng.uniform(-0.6, 0.6, w.shape).astype(np.float32) for w in node.weights["onnx"]
    }


@pytest.mark.parametrize("case", sorted(CASES))
def test_recurrence_matches_numpy(case: str, load_spec, forward) -> None:
    text = body(CASES[case], steps="6")
    node = load_spec(text).layers[0]
    weights = random_weights(node)
    x = np.random.default_rng(4).standard_normal((2, 6, 3)).astype(np.float32)
    (y,) = forward(text, {"x": x}, {node.name: weights})
    np.testing.assert_allclose(y, reference(node, x, weights), rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize(
    "name", ["gelu", "selu", "swish", "silu", "relu6", "softmax", "log_softmax"]
)
def test_activation_onnx_cannot_recur_is_unsupported(name: str, load_spec, backend) -> None:
    graph = load_spec(body(f"{{type: LSTM, units: 2, recurrent_activation: {name}}}"))
    built = backend.build(graph)
    assert f"cannot apply {name}" in built.unsupported["lstm"]
    assert "lstm" not in backend.measure(built).layers


STACKS = {
    "lstm_2": "{type: LSTM, units: 4, num_layers: 2}",
    "gru_reset_before_3_sequences": (
        "{type: GRU, units: 3, reset_after: false, num_layers: 3, return_sequences: true}"
    ),
    "gru_2_backwards": "{type: GRU, units: 3, num_layers: 2, go_backwards: true}",
    "simple_rnn_2_backwards_sequences": (
        "{type: SimpleRNN, units: 2, num_layers: 2, go_backwards: true, return_sequences: true}"
    ),
    "lstm_2_no_bias_sequences": (
        "{type: LSTM, units: 2, num_layers: 2, use_bias: false, return_sequences: true}"
    ),
}


@pytest.mark.parametrize("case", sorted(STACKS))
def test_stacked_layer(case: str, check) -> None:
    check(body(STACKS[case]))


def _chained(layer: str) -> str:
    """The stack ``layer`` written as chained single layers ``l0``, ``l1``, ... (Keras's way)."""
    spec = yaml.safe_load(layer)
    count, sequences = spec.pop("num_layers"), spec.pop("return_sequences", False)
    chain = [
        {**spec, "name": f"l{i}", "return_sequences": sequences or i < count - 1}
        for i in range(count)
    ]
    return f"inputs: [{{name: x, shape: [6, 3]}}]\nlayers: {json.dumps(chain)}\n"


def _layer_weights(weights: dict[str, np.ndarray], index: int) -> dict[str, np.ndarray]:
    """Stacked layer ``index``'s W, R (and B) under a single layer's names."""
    at = f"_l{index}" if index else ""
    return {name: weights[name + at] for name in ("W", "R", "B") if name + at in weights}


@pytest.mark.parametrize("case", sorted(STACKS))
def test_stack_equals_chained_single_layers(case: str, load_spec, forward) -> None:
    text = body(STACKS[case], steps="6")
    node = load_spec(text).layers[0]
    weights = random_weights(node)
    x = np.random.default_rng(5).standard_normal((2, 6, 3)).astype(np.float32)
    (stacked,) = forward(text, {"x": x}, {node.name: weights})
    chained = {f"l{i}": _layer_weights(weights, i) for i in range(node.args["num_layers"])}
    (expected,) = forward(_chained(STACKS[case]), {"x": x}, chained)
    np.testing.assert_allclose(stacked, expected, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(stacked, _stack_reference(node, x, weights), rtol=1e-4, atol=1e-5)


def _stack_reference(node, x: np.ndarray, weights: dict[str, np.ndarray]) -> np.ndarray:
    """The numpy recurrence layer after layer, each handing on its whole sequence."""
    count = node.args["num_layers"]
    for i in range(count):
        sequences = node.args["return_sequences"] or i < count - 1
        single = SimpleNamespace(type=node.type, args={**node.args, "return_sequences": sequences})
        x = reference(single, x, _layer_weights(weights, i))
    return x


# onnxruntime 1.32's CPU kernels refuse layout=1, so the builders write layout 0 with a
# Transpose on each side; the importer reads both. ONNX's reference evaluator runs layout 1.
@pytest.mark.parametrize(("op", "gates"), [("LSTM", 4), ("GRU", 3), ("RNN", 1)])
def test_a_batch_first_operator_imports(op: str, gates: int, tmp_path, capsys, backend) -> None:
    import onnx
    from onnx import TensorProto, helper, numpy_helper
    from onnx.reference import ReferenceEvaluator

    from tests.imports import run_import
    from translator.ir.sample import sample_inputs
    from translator.spec.loader import load
    from translator.weights.canonical import from_canonical
    from translator.weights.files import load_canonical

    steps, features, hidden = 5, 3, 4
    rng = np.random.default_rng(0)
    tensors = {
        "W": rng.standard_normal((1, gates * hidden, features)) * 0.5,
        "R": rng.standard_normal((1, gates * hidden, hidden)) * 0.5,
        "B": rng.standard_normal((1, 2 * gates * hidden)) * 0.1,
        "axes": np.array([2]),
    }
    nodes = [
        helper.make_node(op, ["x", "W", "R", "B"], ["Y"], hidden_size=hidden, layout=1),
        helper.make_node("Squeeze", ["Y", "axes"], ["y"]),  # (batch, time, hidden)
    ]
    io = [
        helper.make_tensor_value_info("x", TensorProto.FLOAT, ["batch", steps, features]),
        helper.make_tensor_value_info("y", TensorProto.FLOAT, None),
    ]
    initializers = [
        numpy_helper.from_array(v.astype(np.float32 if k != "axes" else np.int64), k)
        for k, v in tensors.items()
    ]
    graph = helper.make_graph(nodes, "batch_first", io[:1], io[1:], initializers)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    onnx.save(model, tmp_path / "batch_first.onnx")
    spec, weights = run_import(tmp_path / "batch_first.onnx", tmp_path, capsys)
    imported = load(str(spec))
    inputs = sample_inputs(imported, 0, batch=2)
    (expected,) = ReferenceEvaluator(model).run(None, {"x": inputs[imported.inputs[0]]})
    canonical = from_canonical(imported, "onnx", load_canonical(imported, weights))
    (got,) = backend.run(backend.set_weights(backend.build(imported), canonical), inputs)
    np.testing.assert_allclose(got, expected, rtol=1e-5, atol=1e-5)
