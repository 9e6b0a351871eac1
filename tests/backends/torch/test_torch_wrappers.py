"""Wrappers in PyTorch: TimeDistributed (Dense, Conv2D, LSTM) keeps the wrapped module as
``.layer``; Bidirectional is the two-direction RNN, merged as Keras merges, in every mode."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from tests.harness import check_spec, one_layer

TIME_DISTRIBUTED = {
    "dense": ("{type: Dense, units: 2, activation: relu}", "[null, 3]"),
    "conv2d": ("{type: Conv2D, filters: 2, kernel_size: 3, padding: same}", "[3, 5, 5, 1]"),
    "lstm": ("{type: LSTM, units: 2}", "[3, 4, 2]"),
    "flatten": ("{type: Flatten}", "[3, 2, 2]"),
    "batch_norm": ("{type: BatchNormalization}", "[3, 4]"),
}


@pytest.mark.parametrize("inner,shape", TIME_DISTRIBUTED.values(), ids=TIME_DISTRIBUTED.keys())
def test_time_distributed(inner: str, shape: str) -> None:
    check_spec(one_layer(f"{{type: TimeDistributed, layer: {inner}}}", shape), "torch")


def test_time_distributed_applies_the_layer_per_step() -> None:
    case = check_spec(
        one_layer("{type: TimeDistributed, layer: {type: Dense, units: 2}}", "[4, 3]"), "torch"
    )
    layer = case.module("time_distributed").layer
    x = case.inputs["x"]
    weight, bias = layer.weight.detach().numpy(), layer.bias.detach().numpy()
    np.testing.assert_allclose(case.outputs[0], x @ weight.T + bias, rtol=1e-5, atol=1e-6)


MERGE_MODES = ["concat", "sum", "mul", "ave", "null"]
RNNS = {
    "lstm": "{type: LSTM, units: 3, RS}",
    "gru": "{type: GRU, units: 3, RS}",
    "gru_reset_before": "{type: GRU, units: 3, reset_after: false, RS}",
    "rnn": "{type: SimpleRNN, units: 3, RS}",
    "lstm_custom": "{type: LSTM, units: 3, activation: relu, RS}",
}


def bidirectional(inner: str, mode: str, sequences: bool, go_backwards: bool = False) -> str:
    flags = f"return_sequences: {str(sequences).lower()}, go_backwards: {str(go_backwards).lower()}"
    layer = f"{{type: Bidirectional, merge_mode: {mode}, layer: {inner.replace('RS', flags)}}}"
    return one_layer(layer, "[5, 2]")


@pytest.mark.parametrize("sequences", [True, False], ids=["sequences", "last"])
@pytest.mark.parametrize("mode", MERGE_MODES)
@pytest.mark.parametrize("inner", RNNS.values(), ids=RNNS.keys())
def test_bidirectional(inner: str, mode: str, sequences: bool) -> None:
    check_spec(bidirectional(inner, mode, sequences), "torch")


MERGES = {
    "concat": lambda f, b: np.concatenate([f, b], axis=-1),
    "sum": lambda f, b: f + b,
    "mul": lambda f, b: f * b,
    "ave": lambda f, b: (f + b) / 2,
}


def one_direction(state: dict[str, Any], suffix: str) -> dict[str, Any]:
    """The tensors of one direction of a two-way RNN, named as a one-way RNN names them."""
    if suffix:
        return {k.removesuffix(suffix): v for k, v in state.items() if k.endswith(suffix)}
    return {k: v for k, v in state.items() if not k.endswith("_reverse")}


def directions(inner: str, sequences: bool, go_backwards: bool) -> tuple[np.ndarray, np.ndarray]:
    """Keras's two halves, from two one-way layers given the bidirectional layer's weights:
    forward = layer(x); backward = the go_backwards twin, its sequence flipped to time order."""
    both = check_spec(bidirectional(inner, "null", sequences, go_backwards), "torch")
    state = both.module("bidirectional").state_dict()
    halves = []
    for suffix, backwards in (("", go_backwards), ("_reverse", not go_backwards)):
        flags = (
            f"return_sequences: {str(sequences).lower()}, go_backwards: {str(backwards).lower()}"
        )
        one = check_spec(one_layer(inner.replace("RS", flags), "[5, 2]"), "torch")
        one.module(one.graph.layers[0].name).load_state_dict(one_direction(state, suffix))
        (out,) = one.run(x=both.inputs["x"])
        halves.append(out[:, ::-1] if sequences and suffix else out)
    np.testing.assert_allclose(both.outputs[0], halves[0], rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(both.outputs[1], halves[1], rtol=1e-5, atol=1e-6)
    return both.outputs[0], both.outputs[1]


@pytest.mark.parametrize("go_backwards", [False, True], ids=["forwards", "backwards"])
@pytest.mark.parametrize("sequences", [True, False], ids=["sequences", "last"])
@pytest.mark.parametrize("inner", ["lstm", "gru_reset_before"])
def test_bidirectional_halves_are_keras_forward_and_backward_layers(
    inner: str, sequences: bool, go_backwards: bool
) -> None:
    directions(RNNS[inner], sequences, go_backwards)


@pytest.mark.parametrize("mode", MERGES)
def test_bidirectional_merge_modes(mode: str) -> None:
    forward, backward = directions(RNNS["gru"], True, False)
    case = check_spec(bidirectional(RNNS["gru"], mode, True), "torch")
    np.testing.assert_allclose(
        case.outputs[0], MERGES[mode](forward, backward), rtol=1e-5, atol=1e-6
    )
