"""tf2onnx's forms of Keras's recurrent layers beyond the example specs' (``TF2ONNX`` in
``test_import_onnx``): a SimpleRNN or GRU as a Loop running backwards, with another
activation or no bias; LSTMs backwards and Bidirectional ones returning sequences (one
bidirectional operator, or two loops) merged each way; an LSTM as a Loop (hard_sigmoid
gates), activations read by their values. Each imports with the original's
parameter counts and reproduces onnxruntime on the file."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.end_to_end.test_import_onnx import _assert_reproduces
from tests.imports import count_totals, run_import, tf2onnx_file
from translator.spec.loader import load

LOOPS = """
name: recurrent_loops
inputs:
  - {name: x, shape: [7, 4]}
layers:
  - {type: SimpleRNN, units: 5, activation: relu, go_backwards: true, return_sequences: true}
  - {type: GRU, units: 4, use_bias: false, return_sequences: true}
  - type: Bidirectional
    merge_mode: mul
    layer: {type: SimpleRNN, units: 3, return_sequences: true}
  - {type: GRU, units: 3, reset_after: false, use_bias: false, go_backwards: true}
  - {type: Dense, units: 2}
"""
SEQUENCES = """
name: bidirectional_sequences
inputs:
  - {name: x, shape: [7, 4]}
layers:
  - {type: LSTM, units: 5, go_backwards: true, return_sequences: true}
  - type: Bidirectional
    merge_mode: ave
    layer: {type: LSTM, units: 3, return_sequences: true}
  - type: Bidirectional
    layer: {type: GRU, units: 3, return_sequences: true}
  - {type: GlobalMaxPooling1D}
  - {type: Dense, units: 2}
"""

# tf2onnx writes an LSTM with hard_sigmoid gates as a Loop (hard_sigmoid as Add, Clip, Mul),
# and one without a bias as an operator whose B is zeros.
ACTIVATIONS = """
name: recurrent_activations
inputs:
  - {name: x, shape: [6, 3]}
layers:
  - {type: LSTM, units: 4, use_bias: false, return_sequences: true}
  - {type: LSTM, units: 4, recurrent_activation: hard_sigmoid, return_sequences: true}
  - {type: GRU, units: 4, activation: relu, recurrent_activation: hard_sigmoid, return_sequences: true}
  - {type: SimpleRNN, units: 3, activation: linear, use_bias: false}
  - {type: Dense, units: 2}
"""


@pytest.mark.parametrize(
    "text", [LOOPS, SEQUENCES, ACTIVATIONS], ids=["loops", "sequences", "activations"]
)
def test_a_tf2onnx_recurrent_form_imports(
    text: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    original = tmp_path / "original.yaml"
    original.write_text(text, encoding="utf-8")
    source = tf2onnx_file(load(str(original)), tmp_path / "original.onnx")
    spec, weights = run_import(source, tmp_path, capsys)
    assert count_totals(capsys, spec) == count_totals(capsys, original)
    _assert_reproduces(source, spec, weights, spec_order=True)
