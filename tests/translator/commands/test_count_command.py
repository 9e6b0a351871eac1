"""Counting from the IR: the seed's answer, naming, defaults and rules, without frameworks."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from tests.conftest import ROOT, SPECS
from translator.commands.compare import count_report
from translator.reconcile import RULES
from translator.spec.loader import load, load_text

SEED = ROOT / "specs" / "seed_lstm.yaml"


def test_seed_counts_and_explanation() -> None:
    report = count_report(load(str(SEED)))
    lstm, dense = report.layers
    assert lstm.params["keras"] == {"total": 480, "trainable": 480, "non_trainable": 0}
    assert lstm.params["torch"] == {
        "total": 520,
        "trainable": 520,
        "non_trainable": 0,
        "buffers": 0,
    }
    assert lstm.params["onnx"] == {"total": 520}
    assert dense.params["keras"]["total"] == 11
    (rule,) = lstm.explanations
    assert rule.rule == "rnn-double-bias"
    assert rule.delta == {"torch": 40, "onnx": 40}
    assert "4 gates (i, f, c, o) × 10 units = 40" in rule.text
    assert lstm.unexplained == {"torch": 0, "onnx": 0}
    assert report.totals["keras"]["total"] == 491
    assert report.totals["torch"]["total"] == 531
    assert report.totals["onnx"]["total"] == 531


@pytest.mark.parametrize("spec", SPECS, ids=[s.stem for s in SPECS])
def test_every_spec_is_fully_explained_by_the_ir(spec) -> None:
    report = count_report(load(str(spec)))
    assert report.unexplained_total == 0


def test_auto_names_are_per_spec_and_skip_explicit_ones() -> None:
    text = """
name: m
inputs: [{name: x, shape: [4]}]
layers:
  - {type: Dense, units: 2}
  - {name: dense_1, type: Dense, units: 2}
  - {type: Dense, units: 2}
  - {type: BatchNormalization}
"""
    for _ in range(2):  # no process-global counter: loading twice gives the same names
        names = [n.name for n in load_text(text).layers]
        assert names == ["dense", "dense_1", "dense_2", "batch_normalization"]


def test_defaults_are_filled_once() -> None:
    node = load_text(
        "name: m\ninputs: [{name: x, shape: [8, 8, 3]}]\nlayers:\n  - {type: Conv2d, filters: 4, kernel_size: 3}\n"
    ).node("conv2d")
    assert node.type == "Conv2D"  # the PyTorch alias resolves to the canonical type
    assert node.args["strides"] == (1, 1)
    assert node.args["padding"] == "valid"
    assert node.args["data_format"] == "channels_last"
    assert node.output_shape == (6, 6, 4)


@pytest.mark.parametrize(
    ("layer", "input_shape", "output_shape", "keras", "torch"),
    [
        ("{type: Dense, units: 3}", "[5]", (3,), 18, 18),
        (
            "{type: Conv2D, filters: 8, kernel_size: 3, groups: 2, strides: 2, padding: same}",
            "[9, 9, 4]",
            (5, 5, 8),
            152,
            152,
        ),
        (
            "{type: Conv1D, filters: 2, kernel_size: 3, padding: causal, dilation_rate: 2}",
            "[10, 3]",
            (10, 2),
            20,
            20,
        ),
        ("{type: GRU, units: 4}", "[null, 3]", (4,), 108, 108),
        ("{type: GRU, units: 4, reset_after: false}", "[null, 3]", (4,), 96, 96),
        ("{type: SimpleRNN, units: 4, return_sequences: true}", "[7, 3]", (7, 4), 32, 36),
        ("{type: BatchNormalization}", "[6, 6, 5]", (6, 6, 5), 20, 10),
        ("{type: LayerNormalization, axis: [-2, -1]}", "[6, 5]", (6, 5), 60, 60),
        ("{type: Bidirectional, layer: {type: LSTM, units: 3}}", "[null, 2]", (6,), 2 * 72, 2 * 84),
        (
            "{type: Bidirectional, merge_mode: null, layer: {type: GRU, units: 3, return_sequences: true}}",
            "[5, 2]",
            (5, 3),
            2 * 63,
            2 * 63,
        ),
        ("{type: Embedding, input_dim: 10, output_dim: 4}", "[7]", (7, 4), 40, 40),
        ("{type: LSTM, units: 4, num_layers: 3}", "[null, 3]", (4,), 416, 464),
        ("{type: MultiHeadAttention, num_heads: 2, key_dim: 3}", "[5, 8]", (5, 8), 218, 218),
        ("{type: SeparableConv2D, filters: 8, kernel_size: 3}", "[10, 10, 4]", (8, 8, 8), 76, 76),
        (
            "{type: Conv2DTranspose, filters: 8, kernel_size: 3, strides: 2}",
            "[10, 10, 4]",
            (21, 21, 8),
            296,
            296,
        ),
        ("{type: PReLU}", "[10, 10, 4]", (10, 10, 4), 400, 400),
        ("{type: GroupNormalization, groups: 2}", "[10, 10, 4]", (10, 10, 4), 8, 8),
        ("{type: ZeroPadding2D, padding: [[1, 2], [0, 3]]}", "[4, 4, 1]", (7, 7, 1), 0, 0),
        (
            "{type: MaxPooling2D, pool_size: 3, strides: 2, padding: same}",
            "[7, 7, 2]",
            (4, 4, 2),
            0,
            0,
        ),
    ],
)
def test_layer_table(
    layer: str, input_shape: str, output_shape: tuple, keras: int, torch: int
) -> None:
    dtype = "int32" if "Embedding" in layer else "float32"
    text = f"name: m\ninputs: [{{name: x, shape: {input_shape}, dtype: {dtype}}}]\nlayers:\n  - {layer}\n"
    (node,) = load_text(text).layers
    assert node.output_shape == output_shape
    assert node.counts("keras")["total"] == keras
    assert node.counts("torch")["total"] == torch


def test_rules_have_ids_texts_and_examples() -> None:
    ids = [rule.id for rule in RULES]
    assert len(ids) == len(set(ids))
    for rule in RULES:
        assert rule.text and rule.example and (rule.delta or rule.note)


def test_count_cli_imports_no_framework() -> None:
    code = (
        f"import sys, runpy; sys.argv = ['translator', 'count', {str(SEED)!r}];"
        "\ntry:\n    runpy.run_module('translator', run_name='__main__')\nexcept SystemExit:\n    pass\n"
        "heavy = sorted(m for m in ('torch', 'tensorflow', 'keras', 'onnx', 'onnxruntime', 'numpy') if m in sys.modules)\n"
        "print('HEAVY', heavy, file=sys.stderr)"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=ROOT
    )
    assert "HEAVY []" in result.stderr
    data = json.loads(result.stdout)
    assert data["spec"] == "seed_lstm"
    assert data["totals"]["torch"]["total"] == 531


@pytest.mark.parametrize(
    ("layer", "shape", "rule", "fragment"),
    [
        ("{type: PReLU}", "[10, 10, 4]", "prelu-slope-per-element", "alpha (10, 10, 4) = 400"),
        (
            "{type: MultiHeadAttention, num_heads: 2, key_dim: 3}",
            "[5, 8]",
            "attention-head-size",
            "same 218 parameters",
        ),
        (
            "{type: SeparableConv2D, filters: 8, kernel_size: 3}",
            "[10, 10, 4]",
            "separable-as-two-convs",
            "(36 weights, no bias)",
        ),
        (
            "{type: DepthwiseConv2D, kernel_size: 3, depth_multiplier: 2}",
            "[10, 10, 4]",
            "depth-multiplier-as-groups",
            "groups=4",
        ),
        (
            "{type: GroupQueryAttention, head_dim: 4, num_query_heads: 4, num_key_value_heads: 2}",
            "[5, 8]",
            "grouped-query-attention",
            "2 × 4 = 8 wide, not 16",
        ),
    ],
)
def test_convention_notes(layer: str, shape: str, rule: str, fragment: str) -> None:
    text = f"name: m\ninputs: [{{name: x, shape: {shape}}}]\nlayers:\n  - {layer}\n"
    row = count_report(load_text(text)).layers[0]
    (note,) = [e for e in row.explanations if e.rule == rule]
    assert note.note and fragment in note.text, note.text
    assert row.unexplained == {"torch": 0, "onnx": 0}


def test_native_attention_has_no_head_size_note() -> None:
    text = "name: m\ninputs: [{name: x, shape: [5, 8]}]\nlayers:\n  - {type: MultiHeadAttention, num_heads: 2, key_dim: 4}\n"
    assert count_report(load_text(text)).layers[0].explanations == []
