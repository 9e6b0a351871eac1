"""TimeDistributed (Dense, Conv2D, recurrent, nested) and Bidirectional (every merge mode,
every recurrent type, a wrapped layer that goes backwards)."""

from __future__ import annotations

import keras
import numpy as np
import pytest

from tests.harness import assert_measurement_matches_ir, check_spec, one_layer

pytestmark = pytest.mark.keras

TIME_DISTRIBUTED = [
    ("{type: TimeDistributed, layer: {type: Dense, units: 2}}", "[null, 3]", ""),
    ("{type: TimeDistributed, layer: {type: Dense, units: 2, name: proj}}", "[4, 5, 3]", ""),
    (
        (
            "{type: TimeDistributed, layer: {type: Conv2D, filters: 3, kernel_size: 3, strides: 2,"
            " padding: same}}"
        ),
        "[3, 6, 6, 2]",
        "",
    ),
    (
        "{type: TimeDistributed, layer: {type: Conv2D, filters: 3, kernel_size: 2}}",
        "[3, 2, 5, 5]",
        "channels_first",
    ),
    ("{type: TimeDistributed, layer: {type: MaxPooling2D}}", "[3, 4, 4, 2]", ""),
    ("{type: TimeDistributed, layer: {type: Flatten}}", "[3, 4, 2]", ""),
    ("{type: TimeDistributed, layer: {type: BatchNormalization}}", "[3, 4]", ""),
    ("{type: TimeDistributed, layer: {type: LSTM, units: 2}}", "[3, 4, 2]", ""),
    (
        "{type: TimeDistributed, layer: {type: TimeDistributed, layer: {type: Dense, units: 2}}}",
        "[3, 4, 2]",
        "",
    ),
    (
        "{type: TimeDistributed, layer: {type: Bidirectional, layer: {type: GRU, units: 2}}}",
        "[3, 4, 2]",
        "",
    ),
]


@pytest.mark.parametrize(("layer", "shape", "data_format"), TIME_DISTRIBUTED)
def test_time_distributed(layer: str, shape: str, data_format: str) -> None:
    check_spec(one_layer(layer, shape, data_format), "keras")


RNNS = [
    "{type: LSTM, units: 3}",
    "{type: GRU, units: 3}",
    "{type: GRU, units: 3, reset_after: false}",
    "{type: SimpleRNN, units: 3, return_sequences: true}",
    "{type: LSTM, units: 2, return_sequences: true, go_backwards: true}",
]


@pytest.mark.parametrize("merge_mode", ["concat", "sum", "mul", "ave", "null"])
@pytest.mark.parametrize("rnn", RNNS)
def test_bidirectional(rnn: str, merge_mode: str) -> None:
    layer = f"{{type: Bidirectional, merge_mode: {merge_mode}, layer: {rnn}}}"
    check_spec(one_layer(layer, "[null, 4]"), "keras")


@pytest.mark.parametrize("inner", ["forward_enc", "backward_enc"])
def test_bidirectional_of_a_layer_named_like_a_direction(inner: str) -> None:
    """Keras does not double the prefix: forward_enc's copies are forward_enc, backward_enc."""
    check_spec(
        one_layer(
            f"{{type: Bidirectional, layer: {{type: GRU, units: 2, name: {inner}}}}}", "[4, 3]"
        ),
        "keras",
    )


def test_bidirectional_equals_keras_default_construction() -> None:
    """Our explicit backward layer is Keras's own copy when the wrapped layer goes forwards."""
    case = check_spec(
        one_layer(
            "{name: bi, type: Bidirectional, layer: {type: LSTM, units: 3, name: enc,"
            " return_sequences: true}}",
            "[5, 2]",
        ),
        "keras",
    )
    ours = case.layer("bi")
    stock = keras.layers.Bidirectional(
        keras.layers.LSTM(3, return_sequences=True, name="enc"), name="bi"
    )
    x = case.inputs["x"]
    stock(x)  # builds it
    assert [v.path for v in stock.weights] == [v.path for v in ours.weights]
    stock.set_weights(ours.get_weights())
    np.testing.assert_allclose(case.outputs[0], stock(x).numpy(), atol=1e-6)


def test_bidirectional_of_a_backwards_layer_runs_the_copies_opposite_ways() -> None:
    """The forward copy reads the sequence reversed (returning steps in that order); the
    backward copy reads it in order, and its step outputs are flipped, as tf.keras 2 did."""
    case = check_spec(
        one_layer(
            "{name: bi, type: Bidirectional, merge_mode: null, layer: {type: GRU,"
            " units: 3, return_sequences: true, go_backwards: true}}",
            "[5, 2]",
        ),
        "keras",
    )
    bi = case.layer("bi")
    x = case.inputs["x"]
    solo_backwards = keras.layers.GRU(3, return_sequences=True, go_backwards=True)
    solo_forwards = keras.layers.GRU(3, return_sequences=True)
    solo_backwards(x), solo_forwards(x)
    solo_backwards.set_weights(bi.forward_layer.get_weights())
    solo_forwards.set_weights(bi.backward_layer.get_weights())
    out_forward, out_backward = case.outputs
    np.testing.assert_allclose(out_forward, solo_backwards(x).numpy(), atol=1e-6)
    np.testing.assert_allclose(out_backward, solo_forwards(x).numpy()[:, ::-1], atol=1e-6)


def test_measurement_of_a_wrapped_stack() -> None:
    spec = """
name: t
inputs:
  - {name: x, shape: [null, 3]}
layers:
  - {name: bi, type: Bidirectional, layer: {type: LSTM, units: 4, return_sequences: true}}
  - {name: td, type: TimeDistributed, layer: {type: Dense, units: 1, name: readout}}
"""
    case = check_spec(spec, "keras")
    names = {t.name for t in case.measurement.layers["bi"][0]}
    assert "forward_lstm/lstm_cell/kernel" in names
    assert "backward_lstm/lstm_cell/bias" in names
    assert {t.name for t in case.measurement.layers["td"][0]} == {"readout/kernel", "readout/bias"}
    assert_measurement_matches_ir(case.graph, case.measurement)
